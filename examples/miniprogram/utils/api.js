// A small client of reminderd's mini-program API (docs/api.md).
//
// It runs unchanged in a native mini-program (wx.*), under uni-app (uni.*)
// and under Taro (Taro.*): platform() finds the API object, and invoke()
// takes the answer from the success/fail callbacks (wx, uni) or from the
// promise the call returns (Taro), whichever comes first. In Taro, where
// Taro is imported rather than global, call usePlatform(Taro) once (or set
// globalThis.Taro).
//
// request(method, path, body, {idempotencyKey}) wraps wx.request:
//   - adds Authorization: Bearer <session token>, logging in first when there
//     is no token;
//   - resolves with the parsed JSON of a 2xx response;
//   - rejects with an Error carrying status, code, message and fields, taken
//     from the contract's {"error":{"code","message","fields"}} (status 0,
//     code 'network' when no response arrived);
//   - on 401 (the session expired or was revoked) logs in again once and
//     retries once; a second 401 is returned to the caller, never looped.
//
// Login: wx.login() gives a code valid for 5 minutes and usable once; the
// server exchanges it with WeChat (jscode2session) and answers with its own
// session token. WeChat's session_key stays on the server and never reaches
// the mini-program (WeChat's own rule: it must not leave the server), so the
// only secret kept here is reminderd's token, in wx.setStorageSync.
//
// wx.request supports GET, POST, PUT, DELETE, HEAD, OPTIONS, TRACE and
// CONNECT, but not PATCH: to use PATCH /v1/reminders/{id} from a
// mini-program, put a proxy in front or cancel and re-create instead.

'use strict'

const config = require('../config.js')
const helpers = require('./helpers.js')

const SESSION_KEY = 'reminderd.session'

// --- platform ------------------------------------------------------------------

let platformOverride = null

// usePlatform sets the API object explicitly (Taro's import, a test's fake);
// null goes back to detection.
function usePlatform (api) { platformOverride = api || null }

// platform returns the mini-program API object: the one set by usePlatform,
// else uni (uni-app defines it on every platform, wx too on WeChat), else
// Taro, else wx. It is looked up at each call, not at load.
function platform () {
  if (platformOverride) return platformOverride
  /* global uni, Taro, wx */
  if (typeof uni !== 'undefined' && uni && typeof uni.request === 'function') return uni
  if (typeof Taro !== 'undefined' && Taro && typeof Taro.request === 'function') return Taro
  if (typeof wx !== 'undefined' && wx && typeof wx.request === 'function') return wx
  throw new Error('no mini-program API: none of uni, Taro and wx is defined (call usePlatform)')
}

// invoke calls platform()[name](opts) and settles once with its answer,
// whether the platform calls success/fail (wx, uni) or returns a promise
// (Taro; Taro also calls the callbacks). The call itself is synchronous, so
// requestSubscribeMessage keeps the user's tap.
function invoke (name, opts) {
  const p = platform()
  return new Promise(function (resolve, reject) {
    let done = false
    const ok = function (res) { if (!done) { done = true; resolve(res) } }
    const no = function (res) { if (!done) { done = true; reject(res) } }
    const ret = p[name](Object.assign({}, opts, { success: ok, fail: no }))
    if (ret && typeof ret.then === 'function') ret.then(ok, no)
  })
}

// --- session storage -------------------------------------------------------

function readSession () {
  try {
    const s = platform().getStorageSync(SESSION_KEY)
    return s && typeof s === 'object' && s.token ? s : null
  } catch (e) {
    return null
  }
}

// getToken returns the stored session token, or '' when there is none or it
// has expired (the server would answer 401 anyway; this saves a round trip).
function getToken () {
  const s = readSession()
  if (!s) return ''
  const exp = helpers.parseRFC3339(s.expires_at)
  if (!isNaN(exp) && exp <= Date.now()) return ''
  return s.token
}

function getOpenID () {
  const s = readSession()
  return s ? s.openid : ''
}

// dropToken forgets the stored session, but only if it is still the token
// that was refused: a concurrent request may already have stored a new one.
function dropToken (token) {
  const s = readSession()
  if (s && s.token === token) {
    try { platform().removeStorageSync(SESSION_KEY) } catch (e) { /* nothing to do */ }
  }
}

function clearSession () {
  try { platform().removeStorageSync(SESSION_KEY) } catch (e) { /* nothing to do */ }
}

// --- transport ---------------------------------------------------------------

// send performs one request and resolves with {statusCode, data} whatever
// the status; it rejects only when no response arrived.
function send (method, url, body, header) {
  const opts = { url: url, method: method, header: header, timeout: config.timeout || 10000 }
  if (body !== undefined && body !== null) opts.data = body
  return invoke('request', opts).then(
    function (res) { return { statusCode: res.statusCode, data: res.data } },
    function (res) { throw helpers.toNetworkError(res) })
}

// --- login -------------------------------------------------------------------

function wxLoginCode () {
  if (config.sandboxFakeWeChatURL) {
    // Sandbox only (see config.js): ask reminderd's built-in fake WeChat for a
    // code, because it cannot accept the codes of the real wx.login().
    return send('POST', config.sandboxFakeWeChatURL.replace(/\/$/, '') + '/fake/login',
      { openid: config.sandboxOpenID || 'sandbox-user' }, { 'Content-Type': 'application/json' })
      .then(function (res) {
        if (res.statusCode !== 200 || !res.data || !res.data.code) {
          throw helpers.toApiError(res.statusCode, res.data)
        }
        return res.data.code
      })
  }
  return invoke('login', { timeout: config.timeout || 10000 }).then(
    function (res) {
      if (res && res.code) return res.code
      throw helpers.toNetworkError(res)
    },
    function (res) { throw helpers.toNetworkError(res) })
}

// requestSubscribe opens WeChat's subscribe popup for tmplIds (at most 3, one
// kind) and resolves with exactly what requestSubscribeMessage resolved with,
// ready for reportConsents; it rejects with the platform's fail result
// ({errMsg, errCode}). Call it first thing in a tap handler: the popup needs
// the tap.
function requestSubscribe (tmplIds) {
  return invoke('requestSubscribeMessage', { tmplIds: tmplIds })
}

// getSubscriptionsSetting resolves with what wx.getSetting({withSubscriptions:
// true}) answers under subscriptionsSetting ({mainSwitch, itemSettings}),
// or null when the base library gives none (before 2.10.1).
function getSubscriptionsSetting () {
  return invoke('getSetting', { withSubscriptions: true }).then(function (res) {
    return (res && res.subscriptionsSetting) || null
  })
}

// openSubscriptionsSetting opens the settings page (tap only, like the
// popup: call it first in a tap handler) and resolves with the
// subscriptionsSetting the user left there, or null.
function openSubscriptionsSetting () {
  return invoke('openSetting', { withSubscriptions: true }).then(function (res) {
    return (res && res.subscriptionsSetting) || null
  })
}

let loginInFlight = null

// login gets a fresh code from wx.login(), exchanges it with POST /v1/session
// {"code"} and stores the session. Concurrent callers share one login (a page
// load fires several requests at once; each code is single-use).
function login () {
  if (loginInFlight) return loginInFlight
  loginInFlight = wxLoginCode()
    .then(function (code) {
      return send('POST', config.baseURL + '/v1/session', { code: code }, { 'Content-Type': 'application/json' })
    })
    .then(function (res) {
      if (res.statusCode !== 200 || !res.data || !res.data.token) {
        throw helpers.toApiError(res.statusCode, res.data)
      }
      // The response is {token, openid, expires_at}: nothing of WeChat's
      // session (session_key, unionid) is in it.
      const session = { token: res.data.token, openid: res.data.openid, expires_at: res.data.expires_at }
      platform().setStorageSync(SESSION_KEY, session)
      return session.token
    })
  const done = function () { loginInFlight = null }
  loginInFlight.then(done, done)
  return loginInFlight
}

// ensureLogin logs in unless a session is stored.
function ensureLogin () {
  const token = getToken()
  return token ? Promise.resolve(token) : login()
}

// --- requests ----------------------------------------------------------------

function headers (token, options, hasBody) {
  const h = { Authorization: 'Bearer ' + token }
  if (hasBody) h['Content-Type'] = 'application/json'
  if (options && options.idempotencyKey) h['Idempotency-Key'] = options.idempotencyKey
  return h
}

// request calls the API at path ('/v1/…') and resolves with the response
// body; see the top of the file.
async function request (method, path, body, options) {
  const hasBody = body !== undefined && body !== null
  let token = await ensureLogin()
  let res = await send(method, config.baseURL + path, body, headers(token, options, hasBody))
  if (res.statusCode === 401) {
    // The session expired or was revoked: log in again once and retry once.
    // Retrying a POST is safe: a 401 means the server did nothing (and a
    // create carries its Idempotency-Key anyway).
    dropToken(token)
    token = await login()
    res = await send(method, config.baseURL + path, body, headers(token, options, hasBody))
  }
  if (res.statusCode >= 200 && res.statusCode < 300) return res.data
  throw helpers.toApiError(res.statusCode, res.data)
}

function query (params) {
  const parts = Object.keys(params)
    .filter(function (k) { return params[k] !== undefined && params[k] !== null && params[k] !== '' })
    .map(function (k) { return encodeURIComponent(k) + '=' + encodeURIComponent(params[k]) })
  return parts.length ? '?' + parts.join('&') : ''
}

// --- the endpoints the example uses ----------------------------------------

module.exports = {
  request: request,
  login: login,
  ensureLogin: ensureLogin,
  getToken: getToken,
  getOpenID: getOpenID,
  clearSession: clearSession,
  requestSubscribe: requestSubscribe,
  getSubscriptionsSetting: getSubscriptionsSetting,
  openSubscriptionsSetting: openSubscriptionsSetting,
  usePlatform: usePlatform,
  platform: platform,
  SESSION_KEY: SESSION_KEY,

  // GET /v1/templates → {templates:[{id,title,kind,fields:[{key,type,label}]}]}
  templates: function () { return request('GET', '/v1/templates') },
  // GET /v1/consents → {consents:[{template_id,credits,status,long_term,updated_at}]}
  consents: function () { return request('GET', '/v1/consents') },
  // GET /v1/consents/prompt → {template_ids, silent, blocked, main_switch}:
  // at most 3 ids of one kind to request at the next tap, those of them that
  // need no popup, those not worth asking for, whether subscriptions are on.
  consentPrompt: function () { return request('GET', '/v1/consents/prompt') },
  // POST /v1/consents/settings: setting is exactly the subscriptionsSetting
  // of wx.getSetting({withSubscriptions: true}) → {consents:[…]}.
  reportSettings: function (setting) { return request('POST', '/v1/consents/settings', setting) },
  // POST /v1/consents {results}: results is exactly what
  // wx.requestSubscribeMessage resolved with (errMsg included; the server
  // ignores it).
  reportConsents: function (results) { return request('POST', '/v1/consents', { results: results }) },
  // POST /v1/reminders → 201 (or 200 when the Idempotency-Key was seen with
  // the same body).
  createReminder: function (body, idempotencyKey) {
    return request('POST', '/v1/reminders', body, { idempotencyKey: idempotencyKey })
  },
  // GET /v1/reminders?limit=&cursor=&status= → {reminders, next_cursor}
  listReminders: function (params) { return request('GET', '/v1/reminders' + query(params || {})) },
  getReminder: function (id) { return request('GET', '/v1/reminders/' + encodeURIComponent(id)) },
  // DELETE /v1/reminders/{id} → the reminder, canceled; 409 when it already
  // finished (or is being sent right now).
  cancelReminder: function (id) { return request('DELETE', '/v1/reminders/' + encodeURIComponent(id)) },
  // POST /v1/reminders/{id}/snooze {"in"|"until", "consent"} → the
  // reminder, due again; consent is what wx.requestSubscribeMessage resolved
  // with at the snooze tap, as is.
  snoozeReminder: function (id, body, idempotencyKey) {
    return request('POST', '/v1/reminders/' + encodeURIComponent(id) + '/snooze', body, { idempotencyKey: idempotencyKey })
  },

  // POST /v1/events → 201 the event (200 for a repeated Idempotency-Key),
  // with leads_skipped listing the leads already past.
  createEvent: function (body, idempotencyKey) {
    return request('POST', '/v1/events', body, { idempotencyKey: idempotencyKey })
  },
  // GET /v1/events?limit=&cursor= → {events, next_cursor}
  listEvents: function (params) { return request('GET', '/v1/events' + query(params || {})) },
  // GET /v1/events/{id} → the event with its reminders (one per lead)
  getEvent: function (id) { return request('GET', '/v1/events/' + encodeURIComponent(id)) },
  // DELETE /v1/events/{id} → the event; every reminder not yet sent is canceled
  cancelEvent: function (id) { return request('DELETE', '/v1/events/' + encodeURIComponent(id)) }
}
