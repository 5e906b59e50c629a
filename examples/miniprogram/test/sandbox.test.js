// The example's client code against a live reminderd in sandbox mode.
// Skipped unless both variables are set (.ci/run starts a sandbox and sets
// them, with REMINDERD_SANDBOX_REQUIRED=1 so that a missing one fails):
//
//   go run ./cmd/reminderd            # prints "sandbox: fake WeChat at http://127.0.0.1:NNNNN"
//   REMINDERD_URL=http://127.0.0.1:8080 REMINDERD_FAKE_WECHAT_URL=http://127.0.0.1:NNNNN \
//     node --test examples/miniprogram/test/
//
// REMINDERD_ADMIN_TOKEN (the sandbox prints it), when set, adds the admin
// API's view of a reminder that fired.
//
// wx.request is played by fetch, wx.login by the fake WeChat's /fake/login
// (config.sandboxFakeWeChatURL), and the subscribe popup by its /fake/popup,
// which answers exactly what wx.requestSubscribeMessage resolves with.
'use strict'

const test = require('node:test')
const assert = require('node:assert/strict')

const BASE = process.env.REMINDERD_URL
const FAKE = process.env.REMINDERD_FAKE_WECHAT_URL
const ADMIN = process.env.REMINDERD_ADMIN_TOKEN
const skip = !(BASE && FAKE) && 'set REMINDERD_URL and REMINDERD_FAKE_WECHAT_URL to run against a sandbox'
if (skip && process.env.REMINDERD_SANDBOX_REQUIRED) {
  throw new Error('REMINDERD_SANDBOX_REQUIRED is set but REMINDERD_URL or REMINDERD_FAKE_WECHAT_URL is not')
}

function liveWx () {
  const storage = {}
  return {
    getStorageSync: (k) => (k in storage ? storage[k] : ''),
    setStorageSync: (k, v) => { storage[k] = JSON.parse(JSON.stringify(v)) },
    removeStorageSync: (k) => { delete storage[k] },
    login: () => { throw new Error('wx.login must not be called in sandbox mode') },
    request: (o) => {
      fetch(o.url, { method: o.method, headers: o.header, body: o.data === undefined ? undefined : JSON.stringify(o.data) })
        .then((res) => res.text().then((text) => {
          let data = text
          try { data = JSON.parse(text) } catch (e) { /* wx.request leaves it a string */ }
          o.success({ statusCode: res.status, data: data, header: {} })
        }))
        .catch((e) => o.fail({ errMsg: 'request:fail ' + e.message }))
    }
  }
}

test('sandbox end to end: login, templates, consent, create, idempotency, 422, list, cancel', { skip: skip }, async () => {
  global.wx = liveWx()
  const config = require('../config.js')
  config.baseURL = BASE.replace(/\/$/, '')
  config.sandboxFakeWeChatURL = FAKE
  const api = require('../utils/api.js')
  const h = require('../utils/helpers.js')

  await api.login()
  assert.equal(api.getOpenID(), config.sandboxOpenID)

  const templates = (await api.templates()).templates
  const meeting = h.findMeetingTemplate(templates, '', '会议提醒')
  assert.ok(meeting, 'the sandbox has the meeting template')
  const keys = h.meetingFieldKeys(meeting)
  assert.deepEqual(keys, { title: 'thing1', time: 'time2', place: 'thing3' })

  // A meeting tomorrow at the proposed hour, reminded 15 minutes before.
  const day = h.defaultMeeting(Date.now() + 24 * 3600 * 1000)
  const form = { title: '项目评审会', date: day.date, time: day.time, place: 'A栋201会议室' }
  assert.ok(h.validateMeetingForm(form, 15, Date.now()).ok)
  const body = h.buildMeetingReminder(meeting, keys, form, 15, config.reminderPage)
  const key = h.newIdempotencyKey()
  const rem = await api.createReminder(body, key)
  assert.equal(rem.status, 'scheduled')
  assert.equal(Date.parse(rem.fire_at), Date.parse(body.fire_at))
  assert.deepEqual(rem.data, body.data)
  const again = await api.createReminder(body, key)
  assert.equal(again.id, rem.id, 'same key, same body: the same reminder')
  await assert.rejects(api.createReminder(Object.assign({}, body, { page: 'pages/other/other' }), key),
    (e) => e.status === 409 && e.code === 'conflict')

  // Consent: the prompt names the meeting template; the popup's raw result
  // goes to POST /v1/consents. The fake also pushes WeChat's popup event for
  // the same accept; the ledger counts it once.
  const prompt = await api.consentPrompt()
  const ids = h.pickSubscribeIds(prompt.template_ids, templates, meeting.id)
  assert.deepEqual(ids, [meeting.id])
  const before = ((await api.consents()).consents.find((c) => c.template_id === meeting.id) || { credits: 0 }).credits
  const popup = await fetch(FAKE + '/fake/popup', {
    method: 'POST',
    body: JSON.stringify({ openid: config.sandboxOpenID, answers: { [meeting.id]: 'accept' } })
  }).then((r) => r.json())
  assert.equal(popup.errMsg, 'requestSubscribeMessage:ok')
  const after = await api.reportConsents(popup)
  assert.equal(after.consents.find((c) => c.template_id === meeting.id).credits, before + 1)

  // A value the server refuses: 422 naming data.thing1, placed on the title.
  const long = Object.assign({}, body, { data: Object.assign({}, body.data, { thing1: '𠮷'.repeat(21) }) })
  await assert.rejects(api.createReminder(long, h.newIdempotencyKey()), (e) => {
    const placed = h.formErrorsFromFields(e.fields, keys)
    return e.status === 422 && e.code === 'validation_failed' && /20/.test(placed.title)
  })
  const twenty = Object.assign({}, body, { data: Object.assign({}, body.data, { thing1: '𠮷'.repeat(20) }) })
  const other = await api.createReminder(twenty, h.newIdempotencyKey())

  // The list pages with next_cursor.
  const seen = []
  let cursor = null
  do {
    const page = await api.listReminders({ limit: 1, cursor: cursor })
    page.reminders.forEach((r) => seen.push(r.id))
    cursor = page.next_cursor
  } while (cursor)
  assert.ok(seen.includes(rem.id) && seen.includes(other.id))

  // Cancel, then cancel again: 409.
  const canceled = await api.cancelReminder(rem.id)
  assert.equal(canceled.status, 'canceled')
  assert.equal(h.reminderView(canceled, meeting.id, keys).statusText, '已取消')
  await assert.rejects(api.cancelReminder(rem.id), (e) => e.status === 409)
  await api.cancelReminder(other.id)

  // A reminder due in 2 s, covered by the credit reported above, is sent
  // through the fake WeChat: the client sees it sent with its delivery.
  const soon = h.defaultMeeting(Date.now())
  const due = Object.assign({}, body, { fire_at: new Date(Math.ceil((Date.now() + 2000) / 1000) * 1000).toISOString() })
  due.data = Object.assign({}, body.data, { time2: soon.date + ' ' + soon.time })
  const fired = await api.createReminder(due, h.newIdempotencyKey())
  assert.equal(fired.consent.covered, true)
  let got = fired
  for (let i = 0; i < 100 && got.status !== 'sent' && got.status !== 'failed' && got.status !== 'skipped'; i++) {
    await new Promise((resolve) => setTimeout(resolve, 200))
    got = await api.getReminder(fired.id)
  }
  assert.equal(got.status, 'sent', JSON.stringify(got))
  assert.equal(got.deliveries.length, 1)
  assert.equal(got.deliveries[0].status, 'sent')
  assert.equal(typeof got.deliveries[0].msgid, 'string')
  if (ADMIN) {
    const seen = await fetch(BASE + '/admin/v1/reminders/' + fired.id, { headers: { Authorization: 'Bearer ' + ADMIN } }).then((r) => r.json())
    assert.equal(seen.status, 'sent')
    assert.equal(seen.deliveries[0].msgid, got.deliveries[0].msgid)
  }

  // A session the server no longer knows: the client logs in again once.
  const stored = global.wx.getStorageSync(api.SESSION_KEY)
  global.wx.setStorageSync(api.SESSION_KEY, Object.assign({}, stored, { token: 'revoked' }))
  const list = await api.listReminders({ limit: 1 })
  assert.ok(Array.isArray(list.reminders))
  assert.notEqual(api.getToken(), 'revoked')
})

// popup plays the user answering wx.requestSubscribeMessage: the fake
// WeChat answers exactly what the call resolves with (and pushes WeChat's
// popup event for it to reminderd, which pairs it with the report).
async function popup (openid, answers) {
  const res = await fetch(FAKE + '/fake/popup', { method: 'POST', body: JSON.stringify({ openid: openid, answers: answers }) })
  assert.equal(res.status, 200, await res.clone().text())
  return res.json()
}

function creditsOf (consents, id) {
  return ((consents || []).find((c) => c.template_id === id) || { credits: 0 }).credits
}

test('sandbox meeting app: an event with two leads, settings, the prompt, accept, snooze', { skip: skip }, async () => {
  global.wx = liveWx()
  const config = require('../config.js')
  config.baseURL = BASE.replace(/\/$/, '')
  config.sandboxFakeWeChatURL = FAKE
  // A user of its own: the ledger starts empty, also when the suite runs
  // again against the same database.
  const openid = 'sandbox-meeting-' + Date.now().toString(36)
  config.sandboxOpenID = openid
  const api = require('../utils/api.js')
  const h = require('../utils/helpers.js')
  api.clearSession()
  await api.login()
  assert.equal(api.getOpenID(), openid)

  // Two alternative one-time templates the meeting can fill.
  const templates = (await api.templates()).templates
  const meeting = h.findMeetingTemplate(templates, '', '会议提醒')
  assert.ok(meeting, 'the sandbox has the meeting template')
  const when = h.defaultMeeting(Date.now() + 2 * 24 * 3600 * 1000) // both leads ahead
  const form = { title: '项目评审会', place: 'A栋201会议室', date: when.date, time: when.time }
  const alts = h.pickEventTemplates(templates, meeting, h.meetingCode(when.date, when.time), 2)
  assert.equal(alts.length, 2, 'a second one-time template to fill: ' + JSON.stringify(templates.map((t) => t.title)))
  const altIds = alts.map((t) => t.template_id)
  assert.equal(altIds[0], meeting.id)

  // What wx.getSetting({withSubscriptions: true}) reports for a fresh user.
  const reported = await api.reportSettings({ mainSwitch: true })
  assert.ok(Array.isArray(reported.consents))

  // The meeting: leads P1D and PT15M, both templates.
  const leads = ['P1D', 'PT15M']
  assert.ok(h.validateEventForm(form, leads, Date.now()).ok)
  const key = h.newIdempotencyKey()
  const body = h.buildEvent(form, leads, alts, key, h.detailPage(config.eventPage, key))
  const ev = await api.createEvent(body, key)
  assert.ok(ev.id)
  assert.equal(ev.title, form.title)
  assert.equal(ev.external_ref, key)
  assert.equal(Date.parse(ev.start_at), Date.parse(body.start_at))
  assert.deepEqual(ev.leads, leads)
  assert.deepEqual(ev.leads_skipped || [], [])
  const again = await api.createEvent(body, key)
  assert.equal(again.id, ev.id, 'same key, same body: the same event')
  await assert.rejects(api.createEvent(Object.assign({}, body, { title: '另一个会' }), key),
    (e) => e.status === 409 && e.code === 'conflict')

  // One reminder per lead, due at start − lead, expiring at the start, sent
  // through one of the two templates; the data rendered for its keywords.
  const full = await api.getEvent(ev.id)
  assert.equal(full.reminders.length, 2)
  const byLead = {}
  full.reminders.forEach((r) => { byLead[r.lead] = r })
  assert.deepEqual(Object.keys(byLead).sort(), ['P1D', 'PT15M'])
  const startMs = Date.parse(body.start_at)
  for (const lead of leads) {
    const r = byLead[lead]
    assert.equal(r.event_id, ev.id)
    assert.equal(r.status, 'scheduled')
    assert.equal(Date.parse(r.fire_at), startMs - h.durationMs(lead), lead)
    assert.equal(Date.parse(r.expires_at), startMs, lead)
    assert.ok(altIds.indexOf(r.template_id) >= 0, r.template_id)
    if (r.template_id === meeting.id) {
      assert.deepEqual(r.data, { thing1: form.title, time2: form.date + ' ' + form.time, thing3: form.place })
    }
  }
  // The card's page finds the event among the user's events by its ref.
  const listed = await api.listEvents({ limit: 50 })
  assert.ok(listed.events.some((e) => e.id === ev.id && e.external_ref === key))

  // The prompt: two uncovered leads, two alternatives: one tap that accepts
  // both covers both. Nothing silent, nothing blocked.
  let prompt = h.normalizePrompt(await api.consentPrompt())
  assert.equal(prompt.main_switch, true)
  assert.deepEqual(prompt.blocked, [])
  assert.deepEqual(prompt.silent, [])
  assert.deepEqual(prompt.template_ids.slice().sort(), altIds.slice().sort())
  const ids = h.promptIds(prompt, templates, altIds)
  const answers = {}
  ids.forEach((id) => { answers[id] = 'accept' })
  const result = await popup(openid, answers)
  assert.equal(result.errMsg, 'requestSubscribeMessage:ok')
  const ledger = await api.reportConsents(result)
  for (const id of ids) assert.equal(creditsOf(ledger.consents, id), 1, 'one accept, one credit (the popup event pairs with the report)')
  prompt = h.normalizePrompt(await api.consentPrompt())
  assert.deepEqual(prompt.template_ids, [], 'both leads covered')

  // 稍后提醒 on the lead: the tap requests its templates, the result goes
  // with the snooze as is, and earns one credit.
  const rem = byLead.PT15M
  const snoozeIds = h.snoozeIds(rem, full, prompt, templates)
  assert.ok(snoozeIds.length >= 1 && snoozeIds[0] === rem.template_id)
  const before = (await api.consents()).consents
  const tap = await popup(openid, { [snoozeIds[0]]: 'accept' })
  const snoozeKey = h.newIdempotencyKey()
  const t0 = Date.now()
  const snoozed = await api.snoozeReminder(rem.id, { in: 'PT10M', consent: tap }, snoozeKey)
  assert.equal(snoozed.id, rem.id, 'it keeps its id')
  assert.equal(snoozed.status, 'scheduled')
  const due = Date.parse(snoozed.fire_at)
  assert.ok(due >= t0 + 10 * 60000 - 60000 && due <= Date.now() + 10 * 60000 + 60000, snoozed.fire_at)
  // Still the event's lead, due at the new time.
  const moved = (await api.getEvent(ev.id)).reminders.find((r) => r.id === rem.id)
  assert.ok(moved, 'the snoozed reminder is still one of the event')
  assert.equal(moved.lead, 'PT15M')
  assert.equal(Date.parse(moved.fire_at), due)
  const after = (await api.consents()).consents
  assert.equal(creditsOf(after, snoozeIds[0]), creditsOf(before, snoozeIds[0]) + 1, 'the snooze tap earned one credit')
  const replay = await api.snoozeReminder(rem.id, { in: 'PT10M', consent: tap }, snoozeKey)
  assert.equal(replay.fire_at, snoozed.fire_at, 'the same Idempotency-Key: the same result')
  assert.equal(Date.parse((await api.getReminder(rem.id)).fire_at), due)
  await assert.rejects(api.snoozeReminder(rem.id, { in: 'soon' }, h.newIdempotencyKey()),
    (e) => e.status === 422 && e.code === 'validation_failed' && Object.keys(e.fields).some((k) => /^in/.test(k)))

  // Blocked: the user set the second template to always reject.
  await api.reportSettings({ mainSwitch: true, itemSettings: { [altIds[1]]: 'reject' } })
  prompt = h.normalizePrompt(await api.consentPrompt())
  assert.ok(prompt.blocked.indexOf(altIds[1]) >= 0, JSON.stringify(prompt))
  assert.ok(prompt.template_ids.indexOf(altIds[1]) < 0)
  assert.equal(h.settingsHint(prompt, templates).show, true)
  // The main switch off: nothing to request.
  await api.reportSettings({ mainSwitch: false })
  prompt = h.normalizePrompt(await api.consentPrompt())
  assert.equal(prompt.main_switch, false)
  assert.deepEqual(prompt.template_ids, [])
  // Back on through the settings page, nothing remembered.
  await api.reportSettings({ mainSwitch: true })
  prompt = h.normalizePrompt(await api.consentPrompt())
  assert.equal(prompt.main_switch, true)
  assert.ok(prompt.blocked.indexOf(altIds[1]) < 0, JSON.stringify(prompt))

  // Canceling the meeting cancels its reminders; a canceled one cannot be snoozed.
  await api.cancelEvent(ev.id)
  const gone = await api.getEvent(ev.id)
  assert.ok(gone.reminders.every((r) => r.status === 'canceled'), JSON.stringify(gone.reminders.map((r) => r.status)))
  await assert.rejects(api.snoozeReminder(rem.id, { in: 'PT10M' }, h.newIdempotencyKey()), (e) => e.status === 409)
})
