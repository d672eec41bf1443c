// Chinese (zh-CN) labels for the codes the API sends. The API stays language-neutral
// (codes only); a later i18n step swaps this module for a message catalogue.

export const LANE = {
  fire: '火警',
  electrical: '电气隐患',
  charging: '充电隐患',
  fault: '设备故障',
  offline: '设备离线',
  info: '信息',
};

export const STATE = {
  paging: '呼叫中',
  accepted: '已接警',
  en_route: '出发途中',
  on_scene: '已到场',
  closed: '已结案',
};

export const VERIFICATION = {
  unverified: '未核实',
  confirmed: '已确认',
};

export const OCCUPANCY = {
  rental: '出租屋/群租房',
  self_built: '自建房',
  shop_residence: '下店上住',
  small_venue: '九小场所',
  elderly_home: '养老院',
  residential: '住宅小区',
  charging_site: '电动车集中充电点',
};

/** Close codes (处置结果), in the order the close form offers them. */
export const DISPOSITION = {
  real_fire: '真实火警',
  false_cooking: '误报-烹饪油烟',
  false_smoking: '误报-吸烟',
  false_steam_dust: '误报-蒸汽/灰尘',
  device_fault: '设备故障',
  test: '测试',
  human_error: '人为误触',
};

export const ACTION = {
  accept: '接警',
  decline: '无法出警',
  en_route: '出发',
  on_scene: '到场',
  close: '结案',
};

/** API error codes → what the duty officer reads. */
export const ERROR = {
  E_BAD_BODY: '提交内容有误',
  E_BAD_PARAMS: '地址参数有误',
  E_BAD_QUERY: '查询参数有误',
  E_BAD_JSON: '提交内容不是有效的 JSON',
  E_STATION_NOT_FOUND: '未找到该微型消防站',
  E_INCIDENT_NOT_FOUND: '未找到该警情',
  E_STATION_NOT_PAGED: '本站未被呼叫，不能处理此警情',
  E_INCIDENT_CLOSED: '该警情已结案',
  E_TOO_MANY_STREAMS: '服务器连接数已满，请稍后重试',
  E_SHUTTING_DOWN: '服务器正在重启，请稍候',
  E_INTERNAL: '服务器内部错误',
  E_NETWORK: '网络连接失败，请重试',
};

export function label(dict, code) {
  return dict[code] ?? String(code);
}

export function errorText(code, fallback) {
  return ERROR[code] ?? fallback ?? `错误（${code}）`;
}
