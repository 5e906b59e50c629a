// utils/api.js runs unchanged under native WeChat (wx.*), uni-app (uni.*) and
// Taro (Taro.*). Each fake below answers the way its framework does:
//   - wx: request/login/requestSubscribeMessage take success/fail callbacks;
//     request's success gets {data, statusCode, header}.
//   - uni: the same callbacks and the same success shape as wx
//     ({data, statusCode, header, cookies}); the call returns a task, not a
//     promise, when callbacks are given.
//   - Taro: each call returns a promise of the same result (this fake calls
//     no callback at all, to prove the promise is enough).
// node --test examples/miniprogram/test/
'use strict'

const test = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')

const ROOT = path.join(__dirname, '..')
const TMPL = 'fakeMeetingReminder00000000000000000000001'

// server answers the few routes the test calls, as reminderd would.
function server (log) {
  return function (o) {
    const url = new URL(o.url)
    log.push({ method: o.method, path: url.pathname, header: o.header, data: o.data })
    if (url.pathname === '/v1/session') {
      if (!o.data || o.data.code !== 'code-1') return { statusCode: 401, data: { error: { code: 'invalid_code', message: 'bad code' } } }
      return { statusCode: 200, data: { token: 'tok-1', openid: 'oUser', expires_at: '2099-01-01T00:00:00Z' } }
    }
    if ((o.header || {}).Authorization !== 'Bearer tok-1') return { statusCode: 401, data: { error: { code: 'unauthorized', message: 'no session' } } }
    if (url.pathname === '/v1/consents' && o.method === 'POST') {
      return { statusCode: 200, data: { consents: [{ template_id: TMPL, credits: o.data.results[TMPL] === 'accept' ? 1 : 0, status: o.data.results[TMPL], long_term: false, updated_at: '2026-12-01T00:00:00Z' }] } }
    }
    if (url.pathname === '/v1/reminders' && o.method === 'POST') {
      return { statusCode: 422, data: { error: { code: 'validation_failed', message: 'invalid', fields: { 'data.thing1': 'at most 20 characters' } } } }
    }
    if (url.pathname === '/v1/reminders/down') return 'network'
    return { statusCode: 404, data: { error: { code: 'not_found', message: 'no such reminder' } } }
  }
}

function storage () {
  const m = {}
  return {
    getStorageSync: (k) => (k in m ? m[k] : ''),
    setStorageSync: (k, v) => { m[k] = JSON.parse(JSON.stringify(v)) },
    removeStorageSync: (k) => { delete m[k] }
  }
}

const popupResult = { errMsg: 'requestSubscribeMessage:ok', [TMPL]: 'accept' }
const setting = { mainSwitch: true, itemSettings: { [TMPL]: 'accept' } }

// callbackAPI is wx and uni: success/fail callbacks, answered asynchronously.
function callbackAPI (log) {
  const answer = server(log)
  return Object.assign(storage(), {
    request (o) {
      setImmediate(() => {
        const r = answer(o)
        if (r === 'network') o.fail({ errMsg: 'request:fail timeout' })
        else o.success(Object.assign({ header: {}, cookies: [] }, r))
      })
      return { abort () {}, onHeadersReceived () {} } // a RequestTask, not a promise
    },
    login (o) { setImmediate(() => o.success({ errMsg: 'login:ok', code: 'code-1' })) },
    getSetting (o) {
      assert.equal(o.withSubscriptions, true)
      setImmediate(() => o.success({ errMsg: 'getSetting:ok', authSetting: {}, subscriptionsSetting: Object.assign({}, setting) }))
    },
    requestSubscribeMessage (o) {
      assert.deepEqual(o.tmplIds, [TMPL])
      setImmediate(() => o.success(Object.assign({}, popupResult)))
    }
  })
}

// promiseAPI is Taro: every call returns a promise; no callback is called.
function promiseAPI (log) {
  const answer = server(log)
  const later = (f) => new Promise((resolve, reject) => setImmediate(() => f(resolve, reject)))
  return Object.assign(storage(), {
    request (o) {
      return later((resolve, reject) => {
        const r = answer(o)
        if (r === 'network') reject({ errMsg: 'request:fail timeout' })
        else resolve(Object.assign({ header: {} }, r))
      })
    },
    login () { return later((resolve) => resolve({ errMsg: 'login:ok', code: 'code-1' })) },
    getSetting (o) {
      assert.equal(o.withSubscriptions, true)
      return later((resolve) => resolve({ errMsg: 'getSetting:ok', authSetting: {}, subscriptionsSetting: Object.assign({}, setting) }))
    },
    requestSubscribeMessage (o) {
      assert.deepEqual(o.tmplIds, [TMPL])
      return later((resolve) => resolve(Object.assign({}, popupResult)))
    }
  })
}

// load installs the given globals only and loads the example's modules anew.
function load (globals) {
  for (const g of ['wx', 'uni', 'Taro']) delete global[g]
  Object.assign(global, globals)
  for (const k of Object.keys(require.cache)) {
    if (k.startsWith(ROOT + path.sep) && !k.includes(path.sep + 'test' + path.sep)) delete require.cache[k]
  }
  return require('../utils/api.js')
}

async function story (api, expected, log) {
  assert.equal(api.platform(), expected, 'the platform object is detected')
  // Login through the platform's login(), then a request with the token.
  await api.login()
  assert.equal(api.getOpenID(), 'oUser')
  assert.equal(expected.getStorageSync(api.SESSION_KEY).token, 'tok-1', 'the session is kept in the platform storage')
  // The popup's result goes to the server as is.
  const result = await api.requestSubscribe([TMPL])
  assert.deepEqual(result, popupResult)
  const ledger = await api.reportConsents(result)
  assert.equal(ledger.consents[0].credits, 1)
  assert.deepEqual(log[log.length - 1], { method: 'POST', path: '/v1/consents', header: { Authorization: 'Bearer tok-1', 'Content-Type': 'application/json' }, data: { results: popupResult } })
  // wx.getSetting's subscriptionsSetting, as the settings report takes it.
  assert.deepEqual(await api.getSubscriptionsSetting(), setting)
  // API errors and network errors are mapped the same way on each platform.
  await assert.rejects(api.createReminder({ template_id: TMPL, data: {} }, 'k1'),
    (e) => e.status === 422 && e.code === 'validation_failed' && e.fields['data.thing1'] === 'at most 20 characters')
  assert.equal(log[log.length - 1].header['Idempotency-Key'], 'k1')
  await assert.rejects(api.getReminder('missing'), (e) => e.status === 404 && e.code === 'not_found')
  await assert.rejects(api.getReminder('down'), (e) => e.status === 0 && e.code === 'network' && /timeout/.test(e.message))
}

test('native WeChat: wx.* with callbacks', { timeout: 5000 }, async () => {
  const log = []
  const wx = callbackAPI(log)
  await story(load({ wx: wx }), wx, log)
})

test('uni-app: uni.* is preferred to the wx that uni-app also defines on WeChat', { timeout: 5000 }, async () => {
  const log = []
  const uni = callbackAPI(log)
  const wx = { request () { throw new Error('wx used under uni-app') } }
  await story(load({ uni: uni, wx: wx }), uni, log)
})

test('Taro: Taro.* answering with promises only', { timeout: 5000 }, async () => {
  const log = []
  const Taro = promiseAPI(log)
  await story(load({ Taro: Taro }), Taro, log)
})

test('Taro imported as a module: usePlatform(Taro)', { timeout: 5000 }, async () => {
  const log = []
  const Taro = promiseAPI(log)
  const api = load({})
  assert.throws(() => api.platform(), /none of uni, Taro and wx/)
  api.usePlatform(Taro)
  await story(api, Taro, log)
})

test('a platform that both calls back and resolves settles once', { timeout: 5000 }, async () => {
  const log = []
  const both = callbackAPI(log)
  const request = both.request
  let answers = 0
  both.request = (o) => {
    const p = new Promise((resolve) => {
      request(Object.assign({}, o, { success: (r) => { answers++; o.success(r); resolve(r) }, fail: o.fail }))
    })
    return p
  }
  const api = load({ wx: both })
  await api.login()
  assert.equal(answers, 1)
  assert.equal(log.filter((r) => r.path === '/v1/session').length, 1)
})
