// Login page: posts the credentials, the server sets the HttpOnly session cookie,
// then goes to ?next= (same-origin paths only) or the account's own console.
import { ApiFailure, api } from './api.js';
import { applyI18n, errorText, getLang, setLang, t } from './labels.js';

const $ = (id) => document.getElementById(id);
applyI18n(document);
$('lang').textContent = getLang() === 'zh' ? 'English' : '中文';
$('lang').addEventListener('click', () => {
  setLang(getLang() === 'zh' ? 'en' : 'zh');
  location.reload();
});

function safeNext() {
  const next = new URLSearchParams(location.search).get('next');
  // Only a path on this origin: never an open redirect.
  return next?.startsWith('/') && !next.startsWith('//') ? next : null;
}

$('login-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  $('login-error').hidden = true;
  $('login-submit').disabled = true;
  try {
    const { user } = await api.login($('username').value.trim(), $('password').value);
    const next = safeNext();
    location.assign(next !== null && next !== '/login' ? next : user.home);
  } catch (err) {
    $('login-error').hidden = false;
    $('login-error').textContent =
      err instanceof ApiFailure ? errorText(err.code, err.message) : t('error.generic');
    $('login-submit').disabled = false;
  }
});
