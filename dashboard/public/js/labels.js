// Labels for the codes the API sends, in Chinese (default) and English. The API stays
// language-neutral (codes only). The language is chosen once per page load
// (localStorage 'hub.lang', or ?lang=en|zh); switching reloads the page.

const STORE_KEY = 'hub.lang';

function initialLang() {
  const q = new URLSearchParams(location.search).get('lang');
  if (q === 'en' || q === 'zh') {
    try {
      localStorage.setItem(STORE_KEY, q);
    } catch {}
    return q;
  }
  try {
    const v = localStorage.getItem(STORE_KEY);
    if (v === 'en' || v === 'zh') return v;
  } catch {}
  return 'zh';
}

const LANG = initialLang();
document.documentElement.lang = LANG === 'en' ? 'en' : 'zh-CN';

export function getLang() {
  return LANG;
}

export function setLang(lang) {
  try {
    localStorage.setItem(STORE_KEY, lang);
  } catch {}
}

const zh = {
  LANE: {
    fire: '火警',
    electrical: '电气隐患',
    charging: '充电隐患',
    fault: '设备故障',
    offline: '设备离线',
    info: '信息',
  },
  STATE: { paging: '呼叫中', accepted: '已接警', en_route: '出发途中', on_scene: '已到场', closed: '已结案' },
  VERIFICATION: { unverified: '未核实', confirmed: '已确认' },
  OCCUPANCY: {
    rental: '出租屋/群租房',
    self_built: '自建房',
    shop_residence: '下店上住',
    small_venue: '九小场所',
    elderly_home: '养老院',
    residential: '住宅小区',
    charging_site: '电动车集中充电点',
  },
  DISPOSITION: {
    real_fire: '真实火警',
    false_cooking: '误报-烹饪油烟',
    false_smoking: '误报-吸烟',
    false_steam_dust: '误报-蒸汽/灰尘',
    device_fault: '设备故障',
    test: '测试',
    human_error: '人为误触',
  },
  ACTION: { accept: '接警', decline: '无法出警', en_route: '出发', on_scene: '到场', close: '结案' },
  ROLE: { officer: '值班员', township: '消防所', admin: '管理员' },
  ERROR: {
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
    E_UNAUTHENTICATED: '请先登录',
    E_BAD_CREDENTIALS: '用户名或密码错误',
    E_LOGIN_RATE_LIMITED: '登录尝试过于频繁，请稍后再试',
    E_LOGIN_LOCKED: '该账号登录失败次数过多，已暂时锁定',
    E_ACCOUNT_DISABLED: '该账号已停用',
    E_FORBIDDEN_ROLE: '您的账号无权进行此操作',
    E_OTHER_STATION: '只能查看本站的警情',
    E_OTHER_TOWNSHIP: '只能查看本乡镇的数据',
  },
  TEXT: {
    'login.title': '消防值班台登录',
    'login.username': '用户名',
    'login.password': '密码',
    'login.submit': '登录',
    'error.generic': '出错了，请重试',
    'duty.start': '开始值班',
    'duty.test': '试铃',
    'duty.soundOff': '声音未开启！',
    'duty.soundOffMore': '新警情不会响铃。请点击“开始值班”。',
    'duty.on': '值班中 · 声音已开启',
    'duty.notifyOff': '（系统通知未开启）',
    'console.station': '值班台',
    'console.active': '处置中的警情',
    'console.empty': '暂无警情',
    'console.loadFailed': '加载警情失败：',
    'conn.up': '实时连接正常',
    'conn.down': '连接断开，正在重连…',
    'conn.connecting': '连接中…',
    logout: '退出',
    endShift: '交班（注销本站所有登录）',
    'endShift.confirm': '交班将注销本站所有值班员的登录，确定吗？',
    'fact.floor': '楼层',
    'fact.room': '房间',
    'fact.occupancy': '场所类型',
    'fact.distance': '距离',
    'fact.alarmAt': '报警时间',
    'fact.floors': '总层数',
    'fact.devices': '报警设备',
    'fact.verification': '核实状态',
    'fact.contacts': '联系人',
    'fact.noContacts': '无登记联系人',
    addressUnknown: '地址未知',
    building: '楼栋',
    acceptIn: '请在 {t} 内接警',
    acceptOverdue: '接警已超时 {t}',
    onSceneIn: '须在 {t} 内到场',
    onSceneOverdue: '到场已超时 {t}',
    acceptedBy: '已由 {s} 接警',
    declinedNote: '本站已回复无法出警',
    dispositionIs: '处置结果：{d}',
    chooseDisposition: '选择处置结果…',
    chooseDispositionFirst: '请先选择处置结果',
    pending: '已提交“{a}”，等待确认…',
    notConfirmed: '“{a}”未得到确认，请重试或电话联系消防所',
    newIncident: '新警情！',
    'notification.title': '火警：{b}',
  },
};

const en = {
  LANE: {
    fire: 'Fire',
    electrical: 'Electrical hazard',
    charging: 'Charging hazard',
    fault: 'Device fault',
    offline: 'Device offline',
    info: 'Info',
  },
  STATE: {
    paging: 'Paging',
    accepted: 'Accepted',
    en_route: 'En route',
    on_scene: 'On scene',
    closed: 'Closed',
  },
  VERIFICATION: { unverified: 'Unverified', confirmed: 'Confirmed' },
  OCCUPANCY: {
    rental: 'Rental housing',
    self_built: 'Self-built house',
    shop_residence: 'Shop below, living above',
    small_venue: 'Small venue',
    elderly_home: 'Elderly home',
    residential: 'Residential block',
    charging_site: 'E-bike charging site',
  },
  DISPOSITION: {
    real_fire: 'Real fire',
    false_cooking: 'False alarm: cooking',
    false_smoking: 'False alarm: smoking',
    false_steam_dust: 'False alarm: steam/dust',
    device_fault: 'Device fault',
    test: 'Test',
    human_error: 'Triggered by mistake',
  },
  ACTION: {
    accept: 'Accept',
    decline: 'Decline',
    en_route: 'En route',
    on_scene: 'On scene',
    close: 'Close',
  },
  ROLE: { officer: 'Duty officer', township: 'Fire office', admin: 'Administrator' },
  ERROR: {
    E_BAD_BODY: 'The request was malformed',
    E_BAD_PARAMS: 'Bad address parameters',
    E_BAD_QUERY: 'Bad query parameters',
    E_BAD_JSON: 'Not valid JSON',
    E_STATION_NOT_FOUND: 'Unknown station',
    E_INCIDENT_NOT_FOUND: 'Unknown incident',
    E_STATION_NOT_PAGED: 'Your station was not paged for this incident',
    E_INCIDENT_CLOSED: 'The incident is closed',
    E_TOO_MANY_STREAMS: 'Server is full, retry shortly',
    E_SHUTTING_DOWN: 'Server is restarting',
    E_INTERNAL: 'Internal server error',
    E_NETWORK: 'Network error, retry',
    E_UNAUTHENTICATED: 'Please log in',
    E_BAD_CREDENTIALS: 'Wrong username or password',
    E_LOGIN_RATE_LIMITED: 'Too many login attempts, try again later',
    E_LOGIN_LOCKED: 'Too many failed logins: account locked for a while',
    E_ACCOUNT_DISABLED: 'This account is disabled',
    E_FORBIDDEN_ROLE: 'Your account may not do this',
    E_OTHER_STATION: "Only your own station's incidents",
    E_OTHER_TOWNSHIP: "Only your own township's data",
  },
  TEXT: {
    'login.title': 'Fire duty console: log in',
    'login.username': 'Username',
    'login.password': 'Password',
    'login.submit': 'Log in',
    'error.generic': 'Something went wrong, retry',
    'duty.start': 'Start duty',
    'duty.test': 'Test siren',
    'duty.soundOff': 'SOUND IS OFF!',
    'duty.soundOffMore': 'New incidents will not ring. Click "Start duty".',
    'duty.on': 'On duty · sound on',
    'duty.notifyOff': '(system notifications off)',
    'console.station': 'duty console',
    'console.active': 'Incidents in progress',
    'console.empty': 'No incidents',
    'console.loadFailed': 'Loading incidents failed: ',
    'conn.up': 'Live',
    'conn.down': 'Disconnected, reconnecting…',
    'conn.connecting': 'Connecting…',
    logout: 'Log out',
    endShift: "End shift (log out all of the station's sessions)",
    'endShift.confirm': 'End the shift and log out every session of this station?',
    'fact.floor': 'Floor',
    'fact.room': 'Room',
    'fact.occupancy': 'Occupancy',
    'fact.distance': 'Distance',
    'fact.alarmAt': 'Alarm at',
    'fact.floors': 'Floors',
    'fact.devices': 'Alarming devices',
    'fact.verification': 'Verification',
    'fact.contacts': 'Contacts',
    'fact.noContacts': 'No contacts on file',
    addressUnknown: 'Address unknown',
    building: 'Building',
    acceptIn: 'Accept within {t}',
    acceptOverdue: 'Accept overdue by {t}',
    onSceneIn: 'On scene within {t}',
    onSceneOverdue: 'On scene overdue by {t}',
    acceptedBy: 'Accepted by {s}',
    declinedNote: 'Your station declined',
    dispositionIs: 'Disposition: {d}',
    chooseDisposition: 'Choose a disposition…',
    chooseDispositionFirst: 'Choose a disposition first',
    pending: '"{a}" sent, waiting for confirmation…',
    notConfirmed: '"{a}" was not confirmed: retry or phone the fire office',
    newIncident: 'NEW INCIDENT!',
    'notification.title': 'Fire: {b}',
  },
};

const L = LANG === 'en' ? en : zh;

export const LANE = L.LANE;
export const STATE = L.STATE;
export const VERIFICATION = L.VERIFICATION;
export const OCCUPANCY = L.OCCUPANCY;
/** Close codes (处置结果), in the order the close form offers them. */
export const DISPOSITION = L.DISPOSITION;
export const ACTION = L.ACTION;
export const ROLE = L.ROLE;
/** API error codes → what the duty officer reads. */
export const ERROR = L.ERROR;

/** Extra catalogues registered by a page (e.g. the township console's own texts). */
export function extend(catalogues) {
  Object.assign(L.TEXT, (LANG === 'en' ? catalogues.en : catalogues.zh) ?? {});
}

/** t('acceptIn', { t: '0:30' }) → the text in the page's language. */
export function t(key, vars) {
  let s = L.TEXT[key] ?? zh.TEXT[key] ?? key;
  if (vars) for (const [k, v] of Object.entries(vars)) s = s.replaceAll(`{${k}}`, String(v));
  return s;
}

/** Replaces the text of every [data-i18n] element under root. */
export function applyI18n(root) {
  for (const node of root.querySelectorAll('[data-i18n]')) node.textContent = t(node.dataset.i18n);
}

export function label(dict, code) {
  return dict[code] ?? String(code);
}

export function errorText(code, fallback) {
  return ERROR[code] ?? fallback ?? `${LANG === 'en' ? 'Error' : '错误'}（${code}）`;
}
