// Pure helpers of the example: no wx.* calls, so the mini-program and plain
// Node (node --test examples/miniprogram/test/) load the same file.
//
// Plain ES2017 and CommonJS on purpose: it runs on every base library without
// a build step.

'use strict'

// ---------------------------------------------------------------------------
// Time: the form's date and time are Beijing wall-clock time (UTC+08:00, no
// daylight saving), whatever time zone the phone is set to.

const BEIJING_OFFSET_MINUTES = 8 * 60
const MINUTE = 60 * 1000

function pad2 (n) {
  return (n < 10 ? '0' : '') + n
}

// wallClock returns the calendar fields of the instant ms as seen at the given
// UTC offset (minutes east of UTC).
function wallClock (ms, offsetMinutes) {
  const d = new Date(ms + offsetMinutes * MINUTE)
  return {
    year: d.getUTCFullYear(),
    month: d.getUTCMonth() + 1,
    day: d.getUTCDate(),
    hour: d.getUTCHours(),
    minute: d.getUTCMinutes(),
    second: d.getUTCSeconds()
  }
}

function offsetText (offsetMinutes) {
  const sign = offsetMinutes < 0 ? '-' : '+'
  const abs = Math.abs(offsetMinutes)
  return sign + pad2(Math.floor(abs / 60)) + ':' + pad2(abs % 60)
}

// toRFC3339 formats the instant ms as RFC 3339 with an explicit offset, e.g.
// toRFC3339(ms, 480) === '2026-12-01T13:45:00+08:00'. Never 'Z': the server
// accepts any offset, but a person reading the request should see local time.
function toRFC3339 (ms, offsetMinutes) {
  if (offsetMinutes === undefined) offsetMinutes = BEIJING_OFFSET_MINUTES
  const c = wallClock(ms, offsetMinutes)
  return c.year + '-' + pad2(c.month) + '-' + pad2(c.day) + 'T' +
    pad2(c.hour) + ':' + pad2(c.minute) + ':' + pad2(c.second) + offsetText(offsetMinutes)
}

// parseWallClock turns the pickers' 'YYYY-MM-DD' and 'HH:mm' into the instant
// (ms since the epoch) they name at the given offset, or NaN when either is
// malformed or names no real date (2026-02-30).
function parseWallClock (date, time, offsetMinutes) {
  if (offsetMinutes === undefined) offsetMinutes = BEIJING_OFFSET_MINUTES
  const dm = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date || '')
  const tm = /^(\d{2}):(\d{2})$/.exec(time || '')
  if (!dm || !tm) return NaN
  const y = +dm[1]
  const mo = +dm[2]
  const d = +dm[3]
  const h = +tm[1]
  const mi = +tm[2]
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59) return NaN
  const utc = Date.UTC(y, mo - 1, d, h, mi)
  const back = new Date(utc)
  if (back.getUTCFullYear() !== y || back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d) return NaN
  return utc - offsetMinutes * MINUTE
}

// meetingTimes computes what a meeting reminder needs from the picked date
// and time (Beijing) and the lead in minutes:
//   startMs / expiresAt: the meeting start (a reminder later than that is
//                        pointless, so it is also the reminder's expires_at)
//   fireMs / fireAt:     start minus the lead, RFC 3339 with +08:00
//   time2:               the value of the template's time field, 'YYYY-MM-DD HH:mm'
// It returns null when the date or time is malformed.
function meetingTimes (date, time, leadMinutes) {
  const startMs = parseWallClock(date, time, BEIJING_OFFSET_MINUTES)
  if (isNaN(startMs)) return null
  const lead = Number(leadMinutes) || 0
  const fireMs = startMs - lead * MINUTE
  return {
    startMs: startMs,
    fireMs: fireMs,
    fireAt: toRFC3339(fireMs, BEIJING_OFFSET_MINUTES),
    expiresAt: toRFC3339(startMs, BEIJING_OFFSET_MINUTES),
    time2: date + ' ' + time
  }
}

// formatInstant shows an RFC 3339 instant from the server (any offset) as
// Beijing 'YYYY-MM-DD HH:mm'. Unparseable input comes back unchanged.
function formatInstant (iso, offsetMinutes) {
  if (offsetMinutes === undefined) offsetMinutes = BEIJING_OFFSET_MINUTES
  const ms = parseRFC3339(iso)
  if (isNaN(ms)) return iso || ''
  const c = wallClock(ms, offsetMinutes)
  return c.year + '-' + pad2(c.month) + '-' + pad2(c.day) + ' ' + pad2(c.hour) + ':' + pad2(c.minute)
}

// parseRFC3339 parses '2026-12-01T13:45:00+08:00', '…Z', with optional
// fractional seconds, without trusting Date.parse (older JavaScriptCore
// builds are picky about ISO strings).
function parseRFC3339 (iso) {
  const m = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/.exec(iso || '')
  if (!m) return NaN
  let ms = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6])
  if (m[7]) ms += Math.floor(Number('0.' + m[7]) * 1000)
  if (!m[8]) {
    const off = (+m[10] * 60 + +m[11]) * (m[9] === '-' ? -1 : 1)
    ms -= off * MINUTE
  }
  return ms
}

// defaultMeeting proposes a date and time for a fresh form: the next full
// hour at least 30 minutes from now, Beijing time.
function defaultMeeting (nowMs) {
  const hour = 60 * MINUTE
  const local = nowMs + BEIJING_OFFSET_MINUTES * MINUTE + 30 * MINUTE
  const next = Math.ceil(local / hour) * hour - BEIJING_OFFSET_MINUTES * MINUTE
  const c = wallClock(next, BEIJING_OFFSET_MINUTES)
  return {
    date: c.year + '-' + pad2(c.month) + '-' + pad2(c.day),
    time: pad2(c.hour) + ':' + pad2(c.minute)
  }
}

// todayText is today's Beijing date, for the date picker's start.
function todayText (nowMs) {
  const c = wallClock(nowMs, BEIJING_OFFSET_MINUTES)
  return c.year + '-' + pad2(c.month) + '-' + pad2(c.day)
}

// ---------------------------------------------------------------------------
// Keyword values: the WeChat rules (docs/wechat.md §3) the server enforces,
// checked here too for instant feedback. The server stays the authority: it
// also rejects format and private-use characters, which this file does not
// try to recognise.

// codePointLength counts Unicode code points, the unit of WeChat's limits:
// '𠮷' (U+20BB7) is one character although it is two UTF-16 units, so
// '𠮷'.length === 2 would be the wrong count.
function codePointLength (s) {
  let n = 0
  // for…of walks a string by code points.
  // eslint-disable-next-line no-unused-vars
  for (const _ of String(s)) n++
  return n
}

const THING_MAX = 20

// C0 and C1 controls (which include \n, \r, \t) and the Unicode line and
// paragraph separators.
const CONTROL_RE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/

// isEmoji mirrors the server's conservative emoji test (internal/wechat/rules.go).
function isEmoji (cp) {
  if (cp < 0x200d) return false
  if ((cp >= 0x1f000 && cp <= 0x1faff) || (cp >= 0x2600 && cp <= 0x27bf) ||
      (cp >= 0xe0020 && cp <= 0xe007f) || (cp >= 0x23e9 && cp <= 0x23f3) ||
      (cp >= 0x23f8 && cp <= 0x23fa)) return true
  return [0x200d, 0xfe0e, 0xfe0f, 0x20e3, 0x231a, 0x231b, 0x25fd, 0x25fe, 0x2934, 0x2935,
    0x2b1b, 0x2b1c, 0x2b50, 0x2b55, 0x3030, 0x303d, 0x3297, 0x3299].indexOf(cp) >= 0
}

// validateThing checks a value for a `thing` keyword and returns '' or a
// message in Chinese to show next to the input.
function validateThing (value) {
  const s = value === undefined || value === null ? '' : String(value)
  if (s.trim() === '') return '不能为空'
  if (CONTROL_RE.test(s)) return '不能包含换行或控制字符'
  for (const ch of s) {
    if (isEmoji(ch.codePointAt(0))) return '不能包含表情符号'
  }
  if (s !== s.trim()) return '首尾不能有空格'
  const n = codePointLength(s)
  if (n > THING_MAX) return '最多' + THING_MAX + '个字，当前' + n + '个'
  return ''
}

// cleanText is what the form sends for a text input: white space trimmed
// and runs of white space (newlines pasted in included) folded to one space.
function cleanText (value) {
  return String(value === undefined || value === null ? '' : value).replace(/\s+/g, ' ').trim()
}

// ---------------------------------------------------------------------------
// The meeting form.

// LEAD_OPTIONS is the "提前提醒" select.
const LEAD_OPTIONS = [
  { minutes: 0, label: '会议开始时' },
  { minutes: 5, label: '提前5分钟' },
  { minutes: 15, label: '提前15分钟' },
  { minutes: 30, label: '提前30分钟' },
  { minutes: 60, label: '提前1小时' },
  { minutes: 1440, label: '提前1天' }
]

// validateMeetingForm checks the form locally; it returns an object with a
// message per invalid input (title, when, place, lead) and ok.
function validateMeetingForm (form, leadMinutes, nowMs) {
  const errors = {}
  const title = validateThing(cleanText(form.title))
  if (title) errors.title = title
  const place = validateThing(cleanText(form.place))
  if (place) errors.place = place
  const t = meetingTimes(form.date, form.time, leadMinutes)
  if (!t) {
    errors.when = '请选择会议日期和时间'
  } else if (t.startMs <= nowMs) {
    errors.when = '会议时间已过'
  } else if (t.fireMs <= nowMs) {
    errors.lead = '提醒时间已过，请缩短提前时间'
  }
  return { ok: Object.keys(errors).length === 0, errors: errors }
}

// meetingFieldKeys finds which template keyword holds which form input, by
// the keyword labels of GET /v1/templates (会议名称, 会议时间, 会议地点),
// falling back to the first thing, the first time and the second thing:
// templates picked from WeChat's library number their keywords freely
// (thing1, time2, thing3 in the sandbox; thing4, time6, … elsewhere).
function meetingFieldKeys (template) {
  const fields = (template && template.fields) || []
  const keys = { title: '', time: '', place: '' }
  const byLabel = { '会议名称': 'title', '会议主题': 'title', '会议时间': 'time', '会议地点': 'place' }
  fields.forEach(function (f) {
    const slot = byLabel[f.label]
    if (slot && !keys[slot]) keys[slot] = f.key
  })
  const things = fields.filter(function (f) { return f.type === 'thing' && f.key !== keys.title && f.key !== keys.place })
  const times = fields.filter(function (f) { return f.type === 'time' })
  if (!keys.title && things.length) keys.title = things.shift().key
  if (!keys.place && things.length) keys.place = things.shift().key
  if (!keys.time && times.length) keys.time = times[0].key
  return keys
}

// findMeetingTemplate picks the meeting template from GET /v1/templates.
function findMeetingTemplate (templates, id, title) {
  const list = templates || []
  if (id) return list.filter(function (t) { return t.id === id })[0] || null
  return list.filter(function (t) { return t.title === title && t.kind === 'one_time' })[0] ||
    list.filter(function (t) { return t.title === title })[0] || null
}

// buildMeetingReminder is the body of POST /v1/reminders for the form.
function buildMeetingReminder (template, keys, form, leadMinutes, page) {
  const t = meetingTimes(form.date, form.time, leadMinutes)
  const data = {}
  data[keys.title] = cleanText(form.title)
  data[keys.time] = t.time2
  data[keys.place] = cleanText(form.place)
  return {
    template_id: template.id,
    fire_at: t.fireAt,
    data: data,
    page: page,
    expires_at: t.expiresAt
  }
}

// formErrorsFromFields places the `fields` of a 422 next to the inputs:
// data.<title key> → title, data.<time key> → when, data.<place key> →
// place, fire_at → lead, expires_at → when. Anything else (template_id, a
// keyword the form does not fill, page) goes to general as "path: problem".
function formErrorsFromFields (fields, keys) {
  const out = { general: [] }
  const slots = { fire_at: 'lead', expires_at: 'when' }
  if (keys.title) slots['data.' + keys.title] = 'title'
  if (keys.time) slots['data.' + keys.time] = 'when'
  if (keys.place) slots['data.' + keys.place] = 'place'
  Object.keys(fields || {}).sort().forEach(function (path) {
    const slot = slots[path]
    if (slot) {
      out[slot] = out[slot] ? out[slot] + '；' + fields[path] : fields[path]
    } else {
      out.general.push(path + ': ' + fields[path])
    }
  })
  return out
}

// ---------------------------------------------------------------------------
// Subscribe consent.

// MAX_SUBSCRIBE_IDS: WeChat's documented limit per wx.requestSubscribeMessage
// call (newer docs say 5; 3 works everywhere).
const MAX_SUBSCRIBE_IDS = 3

// pickSubscribeIds chooses the tmplIds of the next popup: the ids of
// GET /v1/consents/prompt (already ordered by urgency), then the preferred
// (meeting) template, at most 3, and never one-time and long-term together
// (WeChat fails such a call with 20002): the kind of the first id wins.
function pickSubscribeIds (promptIds, templates, preferredId) {
  const kinds = {}
  ;(templates || []).forEach(function (t) { kinds[t.id] = t.kind })
  const ids = []
  let kind = null
  ;(promptIds || []).concat(preferredId ? [preferredId] : []).forEach(function (id) {
    if (!id || ids.length >= MAX_SUBSCRIBE_IDS || ids.indexOf(id) >= 0) return
    const k = kinds[id] || 'unknown'
    if (kind === null) kind = k
    if (k !== kind) return
    ids.push(id)
  })
  return ids
}

// acceptedIds lists the ids a wx.requestSubscribeMessage result accepted
// ('accept', 'acceptWithAudio', 'acceptWithAlert', …); errMsg is not an id.
function acceptedIds (result) {
  return Object.keys(result || {}).filter(function (k) {
    return k !== 'errMsg' && /^accept/.test(String(result[k]))
  })
}

// subscribeFailMessage explains a wx.requestSubscribeMessage fail errCode.
function subscribeFailMessage (errCode) {
  const messages = {
    10001: '参数为空',
    10002: '网络问题，请求消息列表失败',
    10003: '网络问题，请求消息列表失败',
    10004: '参数类型错误',
    10005: '无法展示授权弹窗',
    20001: '没有找到模板（模板 id 无效或已删除）',
    20002: '一次性模板和长期模板不能同时订阅',
    20003: '一次最多订阅3个模板',
    20004: '你关闭了“接收订阅消息”总开关，请在设置中开启',
    20005: '小程序的订阅消息能力已被禁用',
    20013: '不允许通过该接口订阅设备消息'
  }
  return messages[errCode] || ('订阅失败（' + errCode + '）')
}

// ---------------------------------------------------------------------------
// Errors: the contract's {"error":{"code","message","fields"}} as a JS Error
// with status, code, message and fields.

const CODE_BY_STATUS = {
  400: 'invalid_json',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  409: 'conflict',
  413: 'body_too_large',
  422: 'validation_failed',
  429: 'rate_limited',
  500: 'internal',
  503: 'unavailable'
}

// toApiError maps a non-2xx response (status and body, parsed or not) to an
// Error with .status, .code, .message and .fields ({} when none). A body that
// is not the contract's shape (a proxy's HTML error page, say) still gives a
// usable error named after the status.
function toApiError (status, body) {
  let parsed = body
  if (typeof parsed === 'string') {
    try { parsed = JSON.parse(parsed) } catch (e) { parsed = null }
  }
  const e = parsed && typeof parsed === 'object' && parsed.error && typeof parsed.error === 'object' ? parsed.error : null
  const code = e && typeof e.code === 'string' && e.code ? e.code : (CODE_BY_STATUS[status] || 'http_' + status)
  const message = e && typeof e.message === 'string' && e.message ? e.message : 'HTTP ' + status
  const err = new Error(message)
  err.status = status
  err.code = code
  err.fields = e && e.fields && typeof e.fields === 'object' ? e.fields : {}
  return err
}

// toNetworkError maps a wx.request fail (no response at all) to an Error with
// status 0 and code 'network'.
function toNetworkError (res) {
  const err = new Error((res && res.errMsg) || 'request:fail')
  err.status = 0
  err.code = 'network'
  err.fields = {}
  return err
}

// errorText is what the page shows for an error in a toast or a line.
function errorText (err) {
  if (!err) return ''
  if (err.code === 'network') return '网络错误，请稍后重试'
  if (err.code === 'invalid_code') return '微信登录失败，请重试'
  if (err.code === 'rate_limited') return '操作太频繁，请稍后再试'
  if (err.code === 'unavailable') return '服务暂不可用，请稍后再试'
  if (err.code === 'internal') return '服务出错了，请稍后再试'
  return err.message || String(err)
}

// ---------------------------------------------------------------------------
// Idempotency keys.

// newIdempotencyKey makes a random key for one form submission. It only has
// to be unique per user, not secret.
function newIdempotencyKey (random, nowMs) {
  const rnd = random || Math.random
  let s = ''
  while (s.length < 20) s += Math.floor(rnd() * 36).toString(36)
  return 'mp-' + (nowMs === undefined ? Date.now() : nowMs).toString(36) + '-' + s
}

// idempotencyFor returns the key to send with a submission: the previous
// submission's key when the body is the same (a second tap, or a retry after
// a timeout whose request may have reached the server: the server answers
// with the reminder it already created), a fresh one otherwise (a changed
// form is a new reminder; reusing the key would get 409).
function idempotencyFor (prev, bodyJSON, makeKey) {
  if (prev && prev.body === bodyJSON) return prev
  return { key: (makeKey || newIdempotencyKey)(), body: bodyJSON }
}

// ---------------------------------------------------------------------------
// Reminders in the list.

const STATUS_LABELS = {
  scheduled: '待发送',
  sending: '发送中',
  sent: '已发送',
  failed: '失败',
  skipped: '已跳过',
  canceled: '已取消'
}

const REASON_LABELS = {
  no_consent: '未授权',
  expired: '已过期',
  user_refused: '用户已拒收',
  invalid_data: '内容不符合模板规则',
  template_invalid: '模板无效',
  openid_invalid: '用户无效',
  page_invalid: '跳转页面无效',
  content_rejected: '内容含敏感词',
  banned: '订阅消息能力被封禁',
  retries_exhausted: '多次重试仍失败'
}

function statusLabel (status) {
  return STATUS_LABELS[status] || status || ''
}

function reasonLabel (reason) {
  if (!reason) return ''
  return REASON_LABELS[reason] || reason
}

// reminderView turns a reminder of the API into what the list shows. keys
// are the meeting template's keyword keys (meetingFieldKeys); a reminder of
// another template shows its first value.
function reminderView (rem, meetingTemplateId, keys) {
  const data = rem.data || {}
  let title = ''
  let when = ''
  let place = ''
  if (rem.template_id === meetingTemplateId && keys) {
    title = data[keys.title] || ''
    when = data[keys.time] || ''
    place = data[keys.place] || ''
  }
  if (!title) {
    // Another template: its first thing keyword, else its first keyword
    // (keywords in their template order: thing1, date2, …).
    const num = function (k) { return parseInt((/\d+$/.exec(k) || ['0'])[0], 10) }
    const ordered = Object.keys(data).sort(function (a, b) { return num(a) - num(b) })
    const first = ordered.filter(function (k) { return /^thing\d/.test(k) })[0] || ordered[0]
    title = first ? data[first] : rem.template_id
  }
  const pending = rem.status === 'scheduled' || rem.status === 'sending'
  const covered = !!(rem.consent && rem.consent.covered)
  return {
    id: rem.id,
    title: title,
    when: when,
    place: place,
    fireText: formatInstant(rem.fire_at),
    status: rem.status,
    statusText: statusLabel(rem.status),
    reasonText: reasonLabel(rem.reason),
    // consent.covered only means something while the reminder is pending.
    showCoverage: pending,
    covered: covered,
    coverText: covered ? '已授权' : '需授权',
    canCancel: rem.status === 'scheduled',
    recurring: !!rem.recurrence
  }
}

// ---------------------------------------------------------------------------
// Events: a meeting with several reminders (POST /v1/events).

// LEAD_CHOICES are the "提前提醒" check boxes: ISO 8601 durations as the
// server takes them (leads), longest first.
const LEAD_CHOICES = [
  { lead: 'P1D', label: '提前1天' },
  { lead: 'PT1H', label: '提前1小时' },
  { lead: 'PT30M', label: '提前30分钟' },
  { lead: 'PT15M', label: '提前15分钟' },
  { lead: 'PT5M', label: '提前5分钟' },
  { lead: 'PT0S', label: '会议开始时' }
]

// MAX_LEADS is the contract's limit of leads per event.
const MAX_LEADS = 5

const DURATION_RE = /^P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$/

// durationMs parses the ISO 8601 durations leads use (P1D, PT15M, PT1H30M,
// PT0S, P1W) into milliseconds, or NaN. Years and months are refused: they
// have no fixed length.
function durationMs (iso) {
  const m = DURATION_RE.exec(String(iso || ''))
  if (!m || iso === 'P' || /T$/.test(iso)) return NaN
  const n = function (i) { return m[i] ? +m[i] : 0 }
  return ((((n(1) * 7 + n(2)) * 24 + n(3)) * 60 + n(4)) * 60 + n(5)) * 1000
}

// leadLabel is how the page names a lead: the check box's label, else a
// composed one ("提前2小时").
function leadLabel (iso) {
  const known = LEAD_CHOICES.filter(function (c) { return c.lead === iso })[0]
  if (known) return known.label
  const ms = durationMs(iso)
  if (isNaN(ms)) return iso || ''
  if (ms === 0) return '会议开始时'
  const min = Math.round(ms / MINUTE)
  if (min % 1440 === 0) return '提前' + (min / 1440) + '天'
  if (min % 60 === 0) return '提前' + (min / 60) + '小时'
  return '提前' + min + '分钟'
}

// validateEventForm checks the meeting form with several leads; it returns
// {ok, errors, past} where past lists the leads whose reminder time has
// already gone (the server skips them and says so in leads_skipped; the
// form refuses only when none is left).
function validateEventForm (form, leads, nowMs) {
  const errors = {}
  const title = validateThing(cleanText(form.title))
  if (title) errors.title = title
  const place = validateThing(cleanText(form.place))
  if (place) errors.place = place
  const list = leads || []
  const past = []
  if (list.length === 0) errors.lead = '请至少选择一个提醒时间'
  else if (list.length > MAX_LEADS) errors.lead = '最多选择' + MAX_LEADS + '个提醒时间'
  const startMs = parseWallClock(form.date, form.time, BEIJING_OFFSET_MINUTES)
  if (isNaN(startMs)) {
    errors.when = '请选择会议日期和时间'
  } else if (startMs <= nowMs) {
    errors.when = '会议时间已过'
  } else if (!errors.lead) {
    list.forEach(function (lead) { if (startMs - durationMs(lead) <= nowMs) past.push(lead) })
    if (past.length === list.length) errors.lead = '提醒时间都已过，请缩短提前时间'
  }
  return { ok: Object.keys(errors).length === 0, errors: errors, past: past }
}

const TITLE_LABELS = ['会议名称', '会议主题', '主题', '事项', '名称', '标题', '活动名称']
const PLACE_LABELS = ['会议地点', '地点', '会议室', '位置', '地址']

// eventTemplateData fills a template's keywords with the event's
// placeholders, which the server renders for each keyword's type:
// {title} and {location} in thing keywords (by label, else the first and
// second thing), {start} in time and date keywords, the first listed value
// in an enum_string, the meeting's code in a character_string. It returns
// null when a keyword cannot be filled: that template cannot serve the
// meeting.
function eventTemplateData (template, code) {
  const fields = (template && template.fields) || []
  const data = {}
  const things = fields.filter(function (f) { return f.type === 'thing' })
  const byLabel = function (labels) { return things.filter(function (f) { return labels.indexOf(f.label) >= 0 })[0] }
  const titleField = byLabel(TITLE_LABELS) || things.filter(function (f) { return PLACE_LABELS.indexOf(f.label) < 0 })[0]
  const placeField = byLabel(PLACE_LABELS) || things.filter(function (f) { return f !== titleField })[0]
  let ok = fields.length > 0
  fields.forEach(function (f) {
    if (f === titleField) data[f.key] = '{title}'
    else if (f === placeField) data[f.key] = '{location}'
    else if (f.type === 'time' || f.type === 'date') data[f.key] = '{start}'
    else if (f.type === 'enum_string' && f.enum && f.enum.length) data[f.key] = f.enum[0]
    else if (f.type === 'character_string' && code) data[f.key] = code
    else ok = false
  })
  return ok ? data : null
}

// pickEventTemplates chooses the event's alternative templates: the meeting
// template first, then other one-time templates the meeting can fill
// (titles with 会议 first), at most max. One-time only: the prompt then
// asks for all of them in one popup (never one-time and long-term together).
function pickEventTemplates (templates, meeting, code, max) {
  const limit = max || 2
  const out = []
  const add = function (t) {
    if (!t || out.length >= limit || out.some(function (x) { return x.template_id === t.id })) return
    const data = eventTemplateData(t, code)
    if (data) out.push({ template_id: t.id, data: data })
  }
  add(meeting)
  const rest = (templates || []).filter(function (t) { return t.kind === 'one_time' && (!meeting || t.id !== meeting.id) })
  rest.filter(function (t) { return /会议/.test(t.title) }).forEach(add)
  rest.forEach(add)
  return out
}

// meetingCode is the meeting's number for character_string keywords (编号):
// digits and letters only, derived from the start so that resubmitting the
// same form gives the same body.
function meetingCode (date, time) {
  return 'M' + String(date || '').replace(/-/g, '') + String(time || '').replace(/:/g, '')
}

// detailPage is the page a delivered reminder of the event opens (the
// subscribe message card): the detail page, found by the app's own
// reference because the event's id is not known before it is created.
function detailPage (base, ref) {
  return base + '?ref=' + encodeURIComponent(ref)
}

// buildEvent is the body of POST /v1/events for the form.
function buildEvent (form, leads, templates, ref, page) {
  const startMs = parseWallClock(form.date, form.time, BEIJING_OFFSET_MINUTES)
  return {
    title: cleanText(form.title),
    start_at: toRFC3339(startMs, BEIJING_OFFSET_MINUTES),
    location: cleanText(form.place),
    timezone: 'Asia/Shanghai',
    page: page,
    external_ref: ref,
    leads: (leads || []).slice(),
    templates: templates
  }
}

// eventErrorsFromFields places the `fields` of a 422 of POST /v1/events on
// the form: templates[i].data.<key> holding {title} → title, {location} →
// place, {start} → when; start_at → when; leads and leads[i] → lead; title
// and location themselves (the server may name them) too. The rest goes to
// general.
function eventErrorsFromFields (fields, body) {
  const out = { general: [] }
  const bySlot = { '{title}': 'title', '{location}': 'place', '{start}': 'when' }
  const put = function (slot, msg) { out[slot] = out[slot] ? out[slot] + '；' + msg : msg }
  Object.keys(fields || {}).sort().forEach(function (path) {
    const msg = fields[path]
    const m = /^templates\[(\d+)\]\.data\.(.+)$/.exec(path)
    const tmpl = m && body && body.templates && body.templates[+m[1]]
    const slot = tmpl && tmpl.data ? bySlot[tmpl.data[m[2]]] : ''
    if (slot) put(slot, msg)
    else if (path === 'start_at' || path === 'timezone') put('when', msg)
    else if (path === 'leads' || /^leads\[\d+\]$/.test(path)) put('lead', msg)
    else if (path === 'title') put('title', msg)
    else if (path === 'location') put('place', msg)
    else out.general.push(path + ': ' + msg)
  })
  return out
}

// eventReminderView is one lead of an event on the detail page.
function eventReminderView (rem, templates) {
  const pending = rem.status === 'scheduled' || rem.status === 'sending'
  const covered = !!(rem.consent && rem.consent.covered)
  const t = (templates || []).filter(function (x) { return x.id === rem.template_id })[0]
  return {
    id: rem.id,
    lead: rem.lead || '',
    leadText: leadLabel(rem.lead),
    fireText: formatInstant(rem.fire_at),
    status: rem.status,
    statusText: statusLabel(rem.status),
    reasonText: reasonLabel(rem.reason),
    templateTitle: t ? t.title : (rem.template_id || ''),
    showCoverage: pending,
    covered: covered,
    coverText: covered ? '已授权' : '需授权',
    canSnooze: rem.status === 'sent' || rem.status === 'skipped' || rem.status === 'scheduled'
  }
}

const EVENT_STATUS_LABELS = {
  scheduled: '待开始',
  done: '已结束',
  canceled: '已取消'
}

// eventView is an event in the list and at the top of the detail page.
function eventView (ev, templates) {
  const reminders = (ev.reminders || []).map(function (r) { return eventReminderView(r, templates) })
  const leads = (ev.leads || []).map(leadLabel)
  return {
    id: ev.id,
    ref: ev.external_ref || '',
    title: ev.title || '',
    startText: formatInstant(ev.start_at),
    location: ev.location || '',
    status: ev.status || '',
    statusText: EVENT_STATUS_LABELS[ev.status] || statusLabel(ev.status),
    leadsText: leads.join('、'),
    reminders: reminders,
    uncovered: reminders.filter(function (r) { return r.showCoverage && !r.covered }).length,
    canCancel: ev.status !== 'canceled' && ev.status !== 'done'
  }
}

// currentReminder picks the lead a detail page acts on: the one named in
// the query (the card of a delivered message), else the latest one already
// sent or skipped (the message the user just read), else the next pending.
function currentReminder (ev, reminderId) {
  const list = (ev && ev.reminders) || []
  if (reminderId) {
    const named = list.filter(function (r) { return r.id === reminderId })[0]
    if (named) return named
  }
  const byFire = function (a, b) { return parseRFC3339(a.fire_at) - parseRFC3339(b.fire_at) }
  const done = list.filter(function (r) { return r.status === 'sent' || r.status === 'skipped' }).sort(byFire)
  if (done.length) return done[done.length - 1]
  return list.filter(function (r) { return r.status === 'scheduled' }).sort(byFire)[0] || null
}

// ---------------------------------------------------------------------------
// The prompt: GET /v1/consents/prompt →
// {template_ids, silent, blocked, main_switch}.

// normalizePrompt fills what an older server leaves out.
function normalizePrompt (p) {
  const prompt = p || {}
  return {
    template_ids: (prompt.template_ids || []).slice(),
    silent: (prompt.silent || []).slice(),
    blocked: (prompt.blocked || []).slice(),
    main_switch: prompt.main_switch !== false
  }
}

// oneKind keeps ids ≤ 3 of the first id's kind (WeChat fails a call mixing
// one-time and long-term with 20002), in order, without duplicates.
function oneKind (ids, templates) {
  const kinds = {}
  ;(templates || []).forEach(function (t) { kinds[t.id] = t.kind })
  const out = []
  let kind = null
  ;(ids || []).forEach(function (id) {
    if (!id || out.length >= MAX_SUBSCRIBE_IDS || out.indexOf(id) >= 0) return
    const k = kinds[id] || 'unknown'
    if (kind === null) kind = k
    if (k === kind) out.push(id)
  })
  return out
}

// promptIds is what the subscribe button requests: the planner's
// template_ids, or, when nothing lacks credit, the preferred ids (the
// meeting's templates) so the user can subscribe ahead; never a blocked id,
// nothing at all with the main switch off.
function promptIds (prompt, templates, preferred) {
  const p = normalizePrompt(prompt)
  if (!p.main_switch) return []
  const open = function (id) { return p.blocked.indexOf(id) < 0 }
  const ids = p.template_ids.length ? p.template_ids : (preferred || [])
  return oneKind(ids.filter(open), templates)
}

// silentIds is what an ordinary tap may request without a popup: the
// prompt's silent ids (saved as "always accept"), one kind, ≤ 3.
function silentIds (prompt, templates) {
  const p = normalizePrompt(prompt)
  if (!p.main_switch) return []
  return oneKind(p.silent.filter(function (id) { return p.blocked.indexOf(id) < 0 }), templates)
}

// settingsHint says whether to offer wx.openSetting and why: the main switch
// is off, or templates are blocked (always rejected or banned).
function settingsHint (prompt, templates) {
  const p = normalizePrompt(prompt)
  if (!p.main_switch) {
    return { show: true, text: '你关闭了“接收订阅消息”，会议提醒将无法送达。请在设置中开启。' }
  }
  if (p.blocked.length) {
    const titles = p.blocked.map(function (id) {
      const t = (templates || []).filter(function (x) { return x.id === id })[0]
      return '“' + (t ? t.title : id) + '”'
    })
    return { show: true, text: '你已设置不再接收' + titles.join('、') + '，相关提醒无法送达。请在设置中重新允许。' }
  }
  return { show: false, text: '' }
}

// snoozeIds is what the 稍后提醒 tap requests: the lead's own template first,
// then the event's other templates, never blocked, nothing with the main
// switch off.
function snoozeIds (reminder, event, prompt, templates) {
  const p = normalizePrompt(prompt)
  if (!p.main_switch) return []
  const ids = []
  if (reminder && reminder.template_id) ids.push(reminder.template_id)
  ;((event && event.templates) || []).forEach(function (t) { ids.push(t.template_id) })
  return oneKind(ids.filter(function (id) { return p.blocked.indexOf(id) < 0 }), templates)
}

// SNOOZE_CHOICES are the 稍后提醒 picker.
const SNOOZE_CHOICES = [
  { in: 'PT10M', label: '10分钟后' },
  { in: 'PT30M', label: '30分钟后' },
  { in: 'PT1H', label: '1小时后' }
]

// parseQuery reads a page's query string ('id=1&ref=a%20b') the way the
// mini-program hands onLoad its options (already decoded there, but a
// page path from a message is not).
function parseQuery (qs) {
  const out = {}
  String(qs || '').replace(/^\?/, '').split('&').forEach(function (pair) {
    if (!pair) return
    const i = pair.indexOf('=')
    const k = decodeURIComponent(i < 0 ? pair : pair.slice(0, i))
    out[k] = i < 0 ? '' : decodeURIComponent(pair.slice(i + 1).replace(/\+/g, ' '))
  })
  return out
}

module.exports = {
  BEIJING_OFFSET_MINUTES: BEIJING_OFFSET_MINUTES,
  THING_MAX: THING_MAX,
  MAX_SUBSCRIBE_IDS: MAX_SUBSCRIBE_IDS,
  LEAD_OPTIONS: LEAD_OPTIONS,
  STATUS_LABELS: STATUS_LABELS,
  REASON_LABELS: REASON_LABELS,
  toRFC3339: toRFC3339,
  parseWallClock: parseWallClock,
  parseRFC3339: parseRFC3339,
  meetingTimes: meetingTimes,
  formatInstant: formatInstant,
  defaultMeeting: defaultMeeting,
  todayText: todayText,
  codePointLength: codePointLength,
  validateThing: validateThing,
  cleanText: cleanText,
  validateMeetingForm: validateMeetingForm,
  meetingFieldKeys: meetingFieldKeys,
  findMeetingTemplate: findMeetingTemplate,
  buildMeetingReminder: buildMeetingReminder,
  formErrorsFromFields: formErrorsFromFields,
  pickSubscribeIds: pickSubscribeIds,
  acceptedIds: acceptedIds,
  subscribeFailMessage: subscribeFailMessage,
  toApiError: toApiError,
  toNetworkError: toNetworkError,
  errorText: errorText,
  newIdempotencyKey: newIdempotencyKey,
  idempotencyFor: idempotencyFor,
  statusLabel: statusLabel,
  reasonLabel: reasonLabel,
  reminderView: reminderView,
  LEAD_CHOICES: LEAD_CHOICES,
  MAX_LEADS: MAX_LEADS,
  SNOOZE_CHOICES: SNOOZE_CHOICES,
  EVENT_STATUS_LABELS: EVENT_STATUS_LABELS,
  durationMs: durationMs,
  leadLabel: leadLabel,
  validateEventForm: validateEventForm,
  eventTemplateData: eventTemplateData,
  pickEventTemplates: pickEventTemplates,
  meetingCode: meetingCode,
  detailPage: detailPage,
  buildEvent: buildEvent,
  eventErrorsFromFields: eventErrorsFromFields,
  eventReminderView: eventReminderView,
  eventView: eventView,
  currentReminder: currentReminder,
  normalizePrompt: normalizePrompt,
  oneKind: oneKind,
  promptIds: promptIds,
  silentIds: silentIds,
  settingsHint: settingsHint,
  snoozeIds: snoozeIds,
  parseQuery: parseQuery
}
