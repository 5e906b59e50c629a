// Tests of the pure helpers: node --test examples/miniprogram/test/
'use strict'

const test = require('node:test')
const assert = require('node:assert/strict')
const h = require('../utils/helpers.js')

// The sandbox's meeting template (internal/wechat/wechattest/ledger.go).
const MEETING = {
  id: 'fakeMeetingReminder00000000000000000000001',
  title: '会议提醒',
  kind: 'one_time',
  fields: [
    { key: 'thing1', type: 'thing', label: '会议名称' },
    { key: 'time2', type: 'time', label: '会议时间' },
    { key: 'thing3', type: 'thing', label: '会议地点' }
  ]
}
const DEADLINE = { id: 'fakeDeadlineReminder0000000000000000000002', title: '截止提醒', kind: 'one_time', fields: [] }
const CLINIC = { id: 'fakeClinicAppointment000000000000000000003', title: '预约提醒', kind: 'long_term', fields: [] }
const TEMPLATES = [MEETING, DEADLINE, CLINIC]

test('toRFC3339 writes +08:00 wall-clock time, whatever the process zone', () => {
  const ms = Date.UTC(2026, 11, 1, 5, 45) // 13:45 in Beijing
  assert.equal(h.toRFC3339(ms), '2026-12-01T13:45:00+08:00')
  assert.equal(h.toRFC3339(ms, 0), '2026-12-01T05:45:00+00:00')
  assert.equal(h.toRFC3339(ms, -330), '2026-12-01T00:15:00-05:30')
  // Crossing midnight in Beijing but not in UTC.
  assert.equal(h.toRFC3339(Date.UTC(2026, 11, 31, 16, 30)), '2027-01-01T00:30:00+08:00')
})

test('meetingTimes: fire_at is the meeting start minus the lead, with +08:00', () => {
  const t = h.meetingTimes('2026-12-01', '14:00', 15)
  assert.equal(t.fireAt, '2026-12-01T13:45:00+08:00')
  assert.equal(t.expiresAt, '2026-12-01T14:00:00+08:00')
  assert.equal(t.time2, '2026-12-01 14:00')
  assert.equal(t.startMs, Date.UTC(2026, 11, 1, 6, 0))
  assert.equal(t.startMs - t.fireMs, 15 * 60 * 1000)
  // The lead crosses midnight and a month and a year.
  assert.equal(h.meetingTimes('2027-01-01', '00:10', 30).fireAt, '2026-12-31T23:40:00+08:00')
  // One day ahead across a leap day.
  assert.equal(h.meetingTimes('2028-03-01', '09:00', 1440).fireAt, '2028-02-29T09:00:00+08:00')
  // No lead: the reminder fires when the meeting starts.
  assert.equal(h.meetingTimes('2026-12-01', '14:00', 0).fireAt, '2026-12-01T14:00:00+08:00')
  // The instants the server will parse are the same instants.
  assert.equal(Date.parse(t.fireAt), t.fireMs)
})

test('meetingTimes refuses malformed or impossible dates', () => {
  assert.equal(h.meetingTimes('2026-02-30', '10:00', 0), null)
  assert.equal(h.meetingTimes('2026-13-01', '10:00', 0), null)
  assert.equal(h.meetingTimes('2026-12-01', '24:00', 0), null)
  assert.equal(h.meetingTimes('2026-12-1', '10:00', 0), null)
  assert.equal(h.meetingTimes('', '', 0), null)
})

test('parseRFC3339 and formatInstant read any offset and show Beijing time', () => {
  const ms = Date.UTC(2026, 11, 1, 5, 45)
  assert.equal(h.parseRFC3339('2026-12-01T13:45:00+08:00'), ms)
  assert.equal(h.parseRFC3339('2026-12-01T05:45:00Z'), ms)
  assert.equal(h.parseRFC3339('2026-12-01T05:45:00.250Z'), ms + 250)
  assert.equal(h.parseRFC3339('2026-11-30T21:45:00-08:00'), ms)
  assert.ok(isNaN(h.parseRFC3339('yesterday')))
  assert.equal(h.formatInstant('2026-12-01T05:45:00Z'), '2026-12-01 13:45')
  assert.equal(h.formatInstant('2026-12-01T13:45:00+08:00'), '2026-12-01 13:45')
  assert.equal(h.formatInstant('garbage'), 'garbage')
})

test('defaultMeeting proposes the next full hour at least 30 minutes ahead', () => {
  // 2026-12-01 13:20 Beijing → 14:00; 13:40 → 15:00; 23:45 → next day 01:00.
  assert.deepEqual(h.defaultMeeting(Date.UTC(2026, 11, 1, 5, 20)), { date: '2026-12-01', time: '14:00' })
  assert.deepEqual(h.defaultMeeting(Date.UTC(2026, 11, 1, 5, 40)), { date: '2026-12-01', time: '15:00' })
  assert.deepEqual(h.defaultMeeting(Date.UTC(2026, 11, 1, 15, 45)), { date: '2026-12-02', time: '01:00' })
  assert.equal(h.todayText(Date.UTC(2026, 11, 1, 16, 0)), '2026-12-02')
})

test('codePointLength counts code points, not UTF-16 units', () => {
  assert.equal('𠮷'.length, 2)
  assert.equal(h.codePointLength('𠮷'), 1)
  assert.equal(h.codePointLength('项目评审会'), 5)
  assert.equal(h.codePointLength('a𠮷b'), 3)
  assert.equal(h.codePointLength(''), 0)
})

test('validateThing: at most 20 code points, not empty, no newlines, no emoji', () => {
  assert.equal(h.validateThing('项目评审会'), '')
  assert.equal(h.validateThing('A栋201会议室'), '')
  // 20 characters of which all need two UTF-16 units: 40 units, still valid.
  const twenty = '𠮷'.repeat(20)
  assert.equal(twenty.length, 40)
  assert.equal(h.validateThing(twenty), '')
  assert.match(h.validateThing('𠮷'.repeat(21)), /最多20个字，当前21个/)
  assert.equal(h.validateThing('一'.repeat(20)), '')
  assert.match(h.validateThing('一'.repeat(21)), /当前21个/)
  assert.equal(h.validateThing(''), '不能为空')
  assert.equal(h.validateThing('   '), '不能为空')
  assert.equal(h.validateThing('第一行\n第二行'), '不能包含换行或控制字符')
  assert.equal(h.validateThing('a\r'), '不能包含换行或控制字符')
  assert.equal(h.validateThing('a\u2028b'), '不能包含换行或控制字符')
  assert.equal(h.validateThing('周会🎉'), '不能包含表情符号')
  assert.equal(h.validateThing(' 周会'), '首尾不能有空格')
  assert.equal(h.validateThing('Q3 review'), '')
})

test('cleanText trims and folds white space, pasted newlines included', () => {
  assert.equal(h.cleanText('  项目\n评审会 '), '项目 评审会')
  assert.equal(h.cleanText(undefined), '')
})

test('validateMeetingForm places each problem on its input', () => {
  const now = Date.UTC(2026, 11, 1, 5, 0) // 13:00 Beijing
  const ok = h.validateMeetingForm({ title: '项目评审会', date: '2026-12-01', time: '14:00', place: 'A栋201' }, 15, now)
  assert.deepEqual(ok, { ok: true, errors: {} })

  const bad = h.validateMeetingForm({ title: '长'.repeat(21), date: '2026-12-01', time: '14:00', place: '' }, 15, now)
  assert.equal(bad.ok, false)
  assert.match(bad.errors.title, /最多20个字/)
  assert.equal(bad.errors.place, '不能为空')

  const past = h.validateMeetingForm({ title: 'x', date: '2026-12-01', time: '12:00', place: 'y' }, 0, now)
  assert.equal(past.errors.when, '会议时间已过')
  const lead = h.validateMeetingForm({ title: 'x', date: '2026-12-01', time: '13:30', place: 'y' }, 60, now)
  assert.match(lead.errors.lead, /提醒时间已过/)
  const none = h.validateMeetingForm({ title: 'x', date: '', time: '', place: 'y' }, 0, now)
  assert.equal(none.errors.when, '请选择会议日期和时间')
})

test('meetingFieldKeys maps the form to the template keys by label, with fallbacks', () => {
  assert.deepEqual(h.meetingFieldKeys(MEETING), { title: 'thing1', time: 'time2', place: 'thing3' })
  const other = {
    fields: [
      { key: 'thing4', type: 'thing', label: '会议主题' },
      { key: 'thing7', type: 'thing', label: '地址' },
      { key: 'time6', type: 'time', label: '开始时间' }
    ]
  }
  assert.deepEqual(h.meetingFieldKeys(other), { title: 'thing4', time: 'time6', place: 'thing7' })
})

test('findMeetingTemplate by configured id, else by title (one-time first)', () => {
  assert.equal(h.findMeetingTemplate(TEMPLATES, '', '会议提醒'), MEETING)
  assert.equal(h.findMeetingTemplate(TEMPLATES, CLINIC.id, '会议提醒'), CLINIC)
  assert.equal(h.findMeetingTemplate(TEMPLATES, 'nope', '会议提醒'), null)
  assert.equal(h.findMeetingTemplate([], '', '会议提醒'), null)
})

test('buildMeetingReminder produces the contract body', () => {
  const keys = h.meetingFieldKeys(MEETING)
  const body = h.buildMeetingReminder(MEETING, keys,
    { title: ' 项目评审会 ', date: '2026-12-01', time: '14:00', place: 'A栋201会议室' }, 15, 'pages/index/index')
  assert.deepEqual(body, {
    template_id: MEETING.id,
    fire_at: '2026-12-01T13:45:00+08:00',
    data: { thing1: '项目评审会', time2: '2026-12-01 14:00', thing3: 'A栋201会议室' },
    page: 'pages/index/index',
    expires_at: '2026-12-01T14:00:00+08:00'
  })
})

test('formErrorsFromFields puts each 422 field next to its input', () => {
  const keys = h.meetingFieldKeys(MEETING)
  const out = h.formErrorsFromFields({
    'data.thing1': 'must be at most 20 characters, got 23',
    'data.thing3': 'must not be empty',
    'data.time2': 'must be a 24-hour time such as 15:01 or 2019-10-01 15:01',
    fire_at: 'is in the past',
    template_id: 'unknown template: GET /v1/templates lists the known ones'
  }, keys)
  assert.equal(out.title, 'must be at most 20 characters, got 23')
  assert.equal(out.place, 'must not be empty')
  assert.match(out.when, /24-hour/)
  assert.equal(out.lead, 'is in the past')
  assert.deepEqual(out.general, ['template_id: unknown template: GET /v1/templates lists the known ones'])
  assert.deepEqual(h.formErrorsFromFields(undefined, keys), { general: [] })
})

test('pickSubscribeIds: prompt first, then the meeting template, ≤ 3, never mixed kinds', () => {
  // Nothing lacks credit: ask for the meeting template.
  assert.deepEqual(h.pickSubscribeIds([], TEMPLATES, MEETING.id), [MEETING.id])
  // The prompt's order is kept and the meeting template is added once.
  assert.deepEqual(h.pickSubscribeIds([DEADLINE.id], TEMPLATES, MEETING.id), [DEADLINE.id, MEETING.id])
  assert.deepEqual(h.pickSubscribeIds([MEETING.id, DEADLINE.id], TEMPLATES, MEETING.id), [MEETING.id, DEADLINE.id])
  // A long-term prompt: the one-time meeting template is not mixed in.
  assert.deepEqual(h.pickSubscribeIds([CLINIC.id], TEMPLATES, MEETING.id), [CLINIC.id])
  // Never more than 3.
  const many = ['a', 'b', 'c', 'd'].map((id) => ({ id: id, kind: 'one_time' }))
  assert.deepEqual(h.pickSubscribeIds(['a', 'b', 'c', 'd'], many, 'e'), ['a', 'b', 'c'])
  assert.equal(h.MAX_SUBSCRIBE_IDS, 3)
})

test('acceptedIds treats every accept* value as consent and skips errMsg', () => {
  const res = { errMsg: 'requestSubscribeMessage:ok', a: 'accept', b: 'reject', c: 'acceptWithAudio', d: 'ban', e: 'filter' }
  assert.deepEqual(h.acceptedIds(res).sort(), ['a', 'c'])
})

test('subscribeFailMessage explains 20004 (master switch off)', () => {
  assert.match(h.subscribeFailMessage(20004), /总开关/)
  assert.match(h.subscribeFailMessage(99999), /99999/)
})

test('toApiError maps the contract error shape', () => {
  const body = { error: { code: 'validation_failed', message: 'invalid request: data.thing1', fields: { 'data.thing1': 'must not be empty' } } }
  const e = h.toApiError(422, body)
  assert.ok(e instanceof Error)
  assert.equal(e.status, 422)
  assert.equal(e.code, 'validation_failed')
  assert.equal(e.message, 'invalid request: data.thing1')
  assert.deepEqual(e.fields, { 'data.thing1': 'must not be empty' })

  // A body wx.request could not parse arrives as a string.
  const s = h.toApiError(409, JSON.stringify({ error: { code: 'conflict', message: 'reminder rem_x is already sent' } }))
  assert.equal(s.code, 'conflict')
  assert.deepEqual(s.fields, {})

  // Not the contract's shape (a proxy's error page): named after the status.
  const p = h.toApiError(502, '<html>Bad Gateway</html>')
  assert.equal(p.code, 'http_502')
  assert.equal(p.message, 'HTTP 502')
  assert.equal(h.toApiError(503, null).code, 'unavailable')
  assert.equal(h.toApiError(401, {}).code, 'unauthorized')

  const n = h.toNetworkError({ errMsg: 'request:fail timeout' })
  assert.equal(n.status, 0)
  assert.equal(n.code, 'network')
  assert.equal(h.errorText(n), '网络错误，请稍后重试')
  assert.equal(h.errorText(s), 'reminder rem_x is already sent')
})

test('idempotency keys: one per submission, reused for the same body', () => {
  let n = 0
  const gen = () => 'k' + (++n)
  const first = h.idempotencyFor(null, '{"a":1}', gen)
  assert.equal(first.key, 'k1')
  assert.equal(h.idempotencyFor(first, '{"a":1}', gen).key, 'k1') // tapped twice
  assert.equal(h.idempotencyFor(first, '{"a":2}', gen).key, 'k2') // the form changed
  const k = h.newIdempotencyKey()
  assert.match(k, /^mp-[0-9a-z]+-[0-9a-z]{20}$/)
  assert.ok(k.length <= 255)
  assert.notEqual(h.newIdempotencyKey(), k)
})

test('status and reason labels in Chinese', () => {
  const want = { scheduled: '待发送', sending: '发送中', sent: '已发送', failed: '失败', skipped: '已跳过', canceled: '已取消' }
  for (const s of Object.keys(want)) assert.equal(h.statusLabel(s), want[s])
  assert.equal(h.reasonLabel('no_consent'), '未授权')
  assert.equal(h.reasonLabel('expired'), '已过期')
  assert.equal(h.reasonLabel(null), '')
  assert.equal(h.reasonLabel('something_new'), 'something_new')
  for (const r of ['no_consent', 'expired', 'user_refused', 'invalid_data', 'template_invalid', 'openid_invalid',
    'page_invalid', 'content_rejected', 'banned', 'retries_exhausted']) {
    assert.ok(h.REASON_LABELS[r], 'label for ' + r)
  }
})

test('reminderView shows title, fire time, status, reason and coverage', () => {
  const keys = h.meetingFieldKeys(MEETING)
  const rem = {
    id: 'rem_1',
    template_id: MEETING.id,
    status: 'scheduled',
    reason: null,
    fire_at: '2026-12-01T05:45:00Z',
    recurrence: null,
    data: { thing1: '项目评审会', time2: '2026-12-01 14:00', thing3: 'A栋201会议室' },
    consent: { credits: 0, covered: false }
  }
  const v = h.reminderView(rem, MEETING.id, keys)
  assert.equal(v.title, '项目评审会')
  assert.equal(v.fireText, '2026-12-01 13:45')
  assert.equal(v.statusText, '待发送')
  assert.equal(v.coverText, '需授权')
  assert.equal(v.showCoverage, true)
  assert.equal(v.canCancel, true)

  const skipped = h.reminderView(Object.assign({}, rem, { status: 'skipped', reason: 'no_consent' }), MEETING.id, keys)
  assert.equal(skipped.statusText, '已跳过')
  assert.equal(skipped.reasonText, '未授权')
  assert.equal(skipped.showCoverage, false)
  assert.equal(skipped.canCancel, false)

  const covered = h.reminderView(Object.assign({}, rem, { consent: { credits: 1, covered: true } }), MEETING.id, keys)
  assert.equal(covered.coverText, '已授权')

  const other = h.reminderView({ id: 'rem_2', template_id: DEADLINE.id, status: 'sent', fire_at: '2026-12-01T05:45:00Z', data: { thing1: '交报告', date2: '2026-12-02' } }, MEETING.id, keys)
  assert.equal(other.title, '交报告')
})

// --- events, the prompt, snooze ----------------------------------------------------

const MEETING2 = {
  id: 'fakeMeetingStart000000000000000000000004',
  title: '会议开始提醒',
  kind: 'one_time',
  fields: [{ key: 'thing1', type: 'thing', label: '会议名称' }, { key: 'time4', type: 'time', label: '开始时间' }]
}
// The sandbox's deadline template with its keywords (enum values included,
// as GET /v1/templates lists them).
const DEADLINE_FULL = {
  id: DEADLINE.id,
  title: '截止提醒',
  kind: 'one_time',
  fields: [
    { key: 'thing1', type: 'thing', label: '事项' },
    { key: 'date2', type: 'date', label: '截止日期' },
    { key: 'enum_string3', type: 'enum_string', label: '优先级', enum: ['高', '中', '低'] },
    { key: 'character_string4', type: 'character_string', label: '编号' }
  ]
}

test('durationMs and leadLabel read the ISO 8601 leads', () => {
  assert.equal(h.durationMs('P1D'), 86400000)
  assert.equal(h.durationMs('PT15M'), 900000)
  assert.equal(h.durationMs('PT1H30M'), 5400000)
  assert.equal(h.durationMs('PT0S'), 0)
  assert.equal(h.durationMs('P1W'), 7 * 86400000)
  for (const bad of ['P', 'PT', '', '15M', 'P1M', 'P1Y', 'PT-5M', null]) assert.ok(isNaN(h.durationMs(bad)), String(bad))
  assert.equal(h.leadLabel('P1D'), '提前1天')
  assert.equal(h.leadLabel('PT0S'), '会议开始时')
  assert.equal(h.leadLabel('PT2H'), '提前2小时')
  assert.equal(h.leadLabel('P2D'), '提前2天')
  assert.equal(h.leadLabel('PT45M'), '提前45分钟')
  assert.equal(h.leadLabel('soon'), 'soon')
})

test('validateEventForm: 1–5 leads, the past ones named, all past refused', () => {
  const now = Date.UTC(2026, 11, 1, 2, 0) // 10:00 Beijing
  const form = { title: '项目评审会', place: 'A栋201会议室', date: '2026-12-01', time: '14:00' }
  const ok = h.validateEventForm(form, ['P1D', 'PT15M'], now)
  assert.equal(ok.ok, true)
  assert.deepEqual(ok.past, ['P1D'], 'the server skips it (leads_skipped)')
  assert.match(h.validateEventForm(form, ['P1D'], now).errors.lead, /都已过/)
  assert.match(h.validateEventForm(form, [], now).errors.lead, /至少/)
  assert.match(h.validateEventForm(form, ['P1D', 'PT1H', 'PT30M', 'PT15M', 'PT5M', 'PT0S'], now).errors.lead, /最多选择5个/)
  assert.equal(h.validateEventForm(Object.assign({}, form, { time: '09:00' }), ['PT0S'], now).errors.when, '会议时间已过')
  const bad = h.validateEventForm({ title: '', place: '会议室😀', date: '2026-12-01', time: '14:00' }, ['PT0S'], now)
  assert.deepEqual(Object.keys(bad.errors).sort(), ['place', 'title'])
})

test('eventTemplateData fills keywords with placeholders by label and type, or gives up', () => {
  assert.deepEqual(h.eventTemplateData(MEETING, 'M1'), { thing1: '{title}', time2: '{start}', thing3: '{location}' })
  assert.deepEqual(h.eventTemplateData(MEETING2, 'M1'), { thing1: '{title}', time4: '{start}' })
  assert.deepEqual(h.eventTemplateData(DEADLINE_FULL, 'M202612011400'),
    { thing1: '{title}', date2: '{start}', enum_string3: '高', character_string4: 'M202612011400' })
  // Labels win over order: the place first, the name second.
  const swapped = { id: 'x', kind: 'one_time', fields: [{ key: 'thing2', type: 'thing', label: '地点' }, { key: 'thing5', type: 'thing', label: '会议主题' }] }
  assert.deepEqual(h.eventTemplateData(swapped), { thing2: '{location}', thing5: '{title}' })
  // A keyword the meeting has nothing for: the template cannot serve it.
  assert.equal(h.eventTemplateData({ id: 'y', fields: [{ key: 'phone_number1', type: 'phone_number', label: '电话' }] }), null)
  assert.equal(h.eventTemplateData(DEADLINE_FULL, ''), null, 'no code for 编号')
  assert.equal(h.eventTemplateData({ id: 'z', fields: [] }), null)
})

test('pickEventTemplates: the meeting template first, one-time alternatives it can fill, 会议 titles first', () => {
  const all = [DEADLINE_FULL, CLINIC, MEETING, MEETING2]
  assert.deepEqual(h.pickEventTemplates(all, MEETING, 'M1', 2).map((t) => t.template_id), [MEETING.id, MEETING2.id])
  assert.deepEqual(h.pickEventTemplates(all, MEETING, 'M1', 3).map((t) => t.template_id), [MEETING.id, MEETING2.id, DEADLINE.id])
  assert.deepEqual(h.pickEventTemplates([MEETING, CLINIC, DEADLINE_FULL], MEETING, 'M1', 2).map((t) => t.template_id),
    [MEETING.id, DEADLINE.id], 'never the long-term one')
  assert.deepEqual(h.pickEventTemplates(all, MEETING, 'M1', 1), [{ template_id: MEETING.id, data: { thing1: '{title}', time2: '{start}', thing3: '{location}' } }])
})

test('buildEvent produces the contract body; meetingCode and detailPage', () => {
  const templates = h.pickEventTemplates([MEETING, MEETING2], MEETING, 'M', 2)
  const form = { title: ' 项目  评审会 ', place: 'A栋201会议室', date: '2026-12-01', time: '14:00' }
  assert.deepEqual(h.buildEvent(form, ['P1D', 'PT15M'], templates, 'mp-1', h.detailPage('pages/meeting/detail', 'mp-1')), {
    title: '项目 评审会',
    start_at: '2026-12-01T14:00:00+08:00',
    location: 'A栋201会议室',
    timezone: 'Asia/Shanghai',
    page: 'pages/meeting/detail?ref=mp-1',
    external_ref: 'mp-1',
    leads: ['P1D', 'PT15M'],
    templates: [
      { template_id: MEETING.id, data: { thing1: '{title}', time2: '{start}', thing3: '{location}' } },
      { template_id: MEETING2.id, data: { thing1: '{title}', time4: '{start}' } }
    ]
  })
  assert.equal(h.meetingCode('2026-12-01', '14:00'), 'M202612011400')
  assert.equal(h.detailPage('pages/meeting/detail', 'a b&c'), 'pages/meeting/detail?ref=a%20b%26c')
  assert.deepEqual(h.parseQuery('ref=a%20b%26c&reminder=rem_1&x'), { ref: 'a b&c', reminder: 'rem_1', x: '' })
  assert.deepEqual(h.parseQuery(''), {})
})

test('eventErrorsFromFields places templates[i].data.<key> by the placeholder it holds', () => {
  const body = { templates: h.pickEventTemplates([MEETING, MEETING2], MEETING, 'M', 2) }
  const out = h.eventErrorsFromFields({
    'templates[0].data.thing3': 'must be at most 20 characters, got 21',
    'templates[1].data.thing1': 'must not be empty',
    'templates[0].data.time2': 'bad time',
    'leads[1]': 'is listed twice',
    start_at: 'must be in the future',
    page: 'too long'
  }, body)
  assert.equal(out.place, 'must be at most 20 characters, got 21')
  assert.equal(out.title, 'must not be empty')
  assert.equal(out.when, 'must be in the future；bad time')
  assert.equal(out.lead, 'is listed twice')
  assert.deepEqual(out.general, ['page: too long'])
})

test('eventView and currentReminder: the leads, their templates and the lead to snooze', () => {
  const ev = {
    id: 'evt_1',
    external_ref: 'mp-1',
    title: '项目评审会',
    start_at: '2026-12-01T06:00:00Z',
    location: 'A栋201会议室',
    status: 'scheduled',
    leads: ['P1D', 'PT15M'],
    templates: [{ template_id: MEETING.id }, { template_id: MEETING2.id }],
    reminders: [
      { id: 'r1', lead: 'P1D', template_id: MEETING.id, status: 'sent', fire_at: '2026-11-30T14:00:00+08:00', consent: { credits: 0, covered: false } },
      { id: 'r2', lead: 'PT15M', template_id: MEETING2.id, status: 'scheduled', fire_at: '2026-12-01T13:45:00+08:00', consent: { credits: 0, covered: false } }
    ]
  }
  const v = h.eventView(ev, [MEETING, MEETING2])
  assert.equal(v.startText, '2026-12-01 14:00')
  assert.equal(v.statusText, '待开始')
  assert.equal(v.leadsText, '提前1天、提前15分钟')
  assert.equal(v.uncovered, 1, 'only pending leads count')
  assert.deepEqual(v.reminders.map((r) => [r.leadText, r.templateTitle, r.statusText, r.canSnooze]),
    [['提前1天', '会议提醒', '已发送', true], ['提前15分钟', '会议开始提醒', '待发送', true]])
  assert.equal(h.eventView(Object.assign({}, ev, { status: 'canceled' }), []).canCancel, false)
  assert.equal(h.currentReminder(ev).id, 'r1', 'the latest sent')
  assert.equal(h.currentReminder(ev, 'r2').id, 'r2', 'the one named')
  assert.equal(h.currentReminder(ev, 'gone').id, 'r1')
  assert.equal(h.currentReminder({ reminders: [ev.reminders[1]] }).id, 'r2', 'else the next pending')
  assert.equal(h.currentReminder({ reminders: [] }), null)
  assert.equal(h.eventReminderView({ id: 'r', status: 'canceled' }, []).canSnooze, false)
})

test('the prompt: one kind, ≤ 3, never blocked; silent ids; the settings hint; snooze ids', () => {
  const all = [MEETING, MEETING2, DEADLINE, CLINIC]
  const p = { template_ids: [MEETING.id, MEETING2.id], silent: [MEETING.id], blocked: [], main_switch: true }
  assert.deepEqual(h.promptIds(p, all, []), [MEETING.id, MEETING2.id])
  assert.deepEqual(h.silentIds(p, all), [MEETING.id])
  assert.deepEqual(h.settingsHint(p, all), { show: false, text: '' })
  // Nothing lacks credit: the preferred ids, less the blocked ones.
  const idle = { template_ids: [], silent: [], blocked: [MEETING2.id], main_switch: true }
  assert.deepEqual(h.promptIds(idle, all, [MEETING.id, MEETING2.id]), [MEETING.id])
  const hint = h.settingsHint(idle, all)
  assert.equal(hint.show, true)
  assert.match(hint.text, /“会议开始提醒”/)
  // Mixed kinds and too many ids are cut to the first kind, 3 at most.
  assert.deepEqual(h.oneKind([CLINIC.id, MEETING.id, CLINIC.id], all), [CLINIC.id])
  assert.deepEqual(h.oneKind([MEETING.id, CLINIC.id, MEETING2.id, DEADLINE.id, 'x'], all), [MEETING.id, MEETING2.id, DEADLINE.id])
  // Main switch off: nothing to request, a hint.
  const off = { template_ids: [], silent: [MEETING.id], blocked: [], main_switch: false }
  assert.deepEqual(h.promptIds(off, all, [MEETING.id]), [])
  assert.deepEqual(h.silentIds(off, all), [])
  assert.match(h.settingsHint(off, all).text, /接收订阅消息/)
  // An older server's prompt ({template_ids} only) still works.
  assert.deepEqual(h.normalizePrompt({ template_ids: [MEETING.id] }), { template_ids: [MEETING.id], silent: [], blocked: [], main_switch: true })
  // 稍后提醒: the lead's own template first, then the event's others.
  const ev = { templates: [{ template_id: MEETING.id }, { template_id: MEETING2.id }] }
  assert.deepEqual(h.snoozeIds({ template_id: MEETING2.id }, ev, p, all), [MEETING2.id, MEETING.id])
  assert.deepEqual(h.snoozeIds({ template_id: MEETING2.id }, ev, idle, all), [MEETING.id])
  assert.deepEqual(h.snoozeIds({ template_id: MEETING.id }, ev, off, all), [])
})
