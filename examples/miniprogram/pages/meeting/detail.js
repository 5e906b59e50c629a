// A meeting's page: its reminders (one per lead, with the template each one
// was or will be sent through), 稍后提醒, consent and the settings hint.
//
// It opens three ways:
//   - from the list: ?id=<event id>;
//   - from a subscribe message card: the event's page, ?ref=<external_ref>
//     (the app's own reference, known before the event's id is), found
//     among the user's events;
//   - with &reminder=<reminder id> too when a link names the lead.
//
// 稍后提醒 (remind me later) snoozes the lead the user just read: the tap
// itself requests the meeting's templates with wx.requestSubscribeMessage
// (first thing, synchronously, so the popup keeps the tap), and the result
// goes with the snooze as is: the accept earns the credit the snoozed send
// will use, in the same transaction that moves the reminder.

'use strict'

const api = require('../../utils/api.js')
const h = require('../../utils/helpers.js')
const consent = require('../../utils/consent.js')

Page(Object.assign({}, consent.methods, {
  data: {
    loading: true,
    loadError: '',
    event: null, // helpers.eventView
    current: null, // helpers.eventReminderView of the lead 稍后提醒 acts on
    subscribeIds: [],
    hint: { show: false, text: '' },
    credits: 0,
    consentText: '',
    snoozeChoices: h.SNOOZE_CHOICES,
    snoozeIndex: 0,
    snoozing: false
  },

  // Not in data: they are not rendered.
  query: {},
  templates: [],
  prompt: h.normalizePrompt(null),
  ev: null, // the event as the API answered it
  pendingSnooze: null, // {key, body} of the last snooze that did not succeed

  onLoad (options) {
    this.query = options || {}
    this.bootstrap()
  },

  onShow () {
    // Back from WeChat's settings: report them again and refresh the lead.
    if (!this.ev) return null
    return this.syncSettings()
      .then(() => Promise.all([this.loadPrompt(), this.refreshEvent()]))
      .catch((err) => { wx.showToast({ title: h.errorText(err), icon: 'none' }) })
  },

  onPullDownRefresh () {
    this.bootstrap().then(function () { wx.stopPullDownRefresh() })
  },

  async bootstrap () {
    this.setData({ loading: true, loadError: '' })
    try {
      await api.ensureLogin()
      this.templates = (await api.templates()).templates || []
      await this.syncSettings()
      const ev = await this.findEvent()
      if (!ev) {
        this.setData({ loading: false, loadError: '会议不存在或已删除' })
        return
      }
      this.show(ev)
      await Promise.all([this.loadPrompt(), this.refreshConsents()])
      this.setData({ loading: false })
    } catch (err) {
      this.setData({ loading: false, loadError: err.status === 404 ? '会议不存在或已删除' : h.errorText(err) })
    }
  },

  // findEvent loads the event by id, or by the app's reference (a message's
  // page) among the user's events, then with its reminders.
  async findEvent () {
    if (this.query.id) return api.getEvent(this.query.id)
    if (!this.query.ref) return null
    let cursor = null
    for (let i = 0; i < 50; i++) {
      const page = await api.listEvents({ limit: 50, cursor: cursor })
      const hit = (page.events || []).filter((e) => e.external_ref === this.query.ref)[0]
      if (hit) return api.getEvent(hit.id)
      cursor = page.next_cursor
      if (!cursor) return null
    }
    return null
  },

  show (ev) {
    this.ev = ev
    const cur = h.currentReminder(ev, this.query.reminder)
    this.setData({
      event: h.eventView(ev, this.templates),
      current: cur ? h.eventReminderView(cur, this.templates) : null
    })
    wx.setNavigationBarTitle({ title: ev.title || '会议' })
  },

  async refreshEvent () {
    this.show(await api.getEvent(this.ev.id))
  },

  // The consent part (utils/consent.js) asks for these.
  preferredIds () {
    return ((this.ev && this.ev.templates) || []).map((t) => t.template_id)
  },

  afterConsent () {
    return Promise.all([this.loadPrompt(), this.refreshEvent()])
  },

  async refreshConsents (consents) {
    const list = consents || (await api.consents()).consents || []
    const s = this.consentSummary(list, this.preferredIds())
    this.setData({ credits: s.credits, consentText: s.text })
  },

  onSnoozeChoice (e) {
    this.setData({ snoozeIndex: Number(e.detail.value) })
  },

  // onSnoozeTap is the bindtap of 稍后提醒. Like onSubscribeTap it calls
  // wx.requestSubscribeMessage first, synchronously (do not make it async):
  // the snoozed reminder needs a credit to be sent, and only this tap can
  // ask for one. Blocked templates and a main switch turned off are not
  // asked for: the snooze goes without consent and the hint says why.
  onSnoozeTap () {
    const rem = this.ev && h.currentReminder(this.ev, this.query.reminder)
    if (!rem || this.data.snoozing) return
    const ids = h.snoozeIds(rem, this.ev, this.prompt, this.templates)
    if (ids.length === 0) {
      this.snooze(rem.id, null)
      return
    }
    wx.requestSubscribeMessage({
      tmplIds: ids,
      success: (res) => { this.snooze(rem.id, res) },
      fail: (err) => { this.snooze(rem.id, null, err) }
    })
  },

  // snooze posts POST /v1/reminders/{id}/snooze {"in", "consent"} with an
  // Idempotency-Key (a retry after a timeout moves the reminder once).
  async snooze (id, result, failure) {
    const choice = h.SNOOZE_CHOICES[this.data.snoozeIndex] || h.SNOOZE_CHOICES[0]
    const body = { in: choice.in }
    if (result) body.consent = result
    this.pendingSnooze = h.idempotencyFor(this.pendingSnooze, JSON.stringify({ id: id, body: body }))
    this.setData({ snoozing: true })
    try {
      const rem = await api.snoozeReminder(id, body, this.pendingSnooze.key)
      this.pendingSnooze = null
      const covered = result ? h.acceptedIds(result).length > 0 : !!(rem.consent && rem.consent.covered)
      wx.showToast({
        title: covered ? '将在' + choice.label + '再次提醒' : '已推迟，但未授权，提醒可能无法送达',
        icon: 'none'
      })
      this.query.reminder = rem.id
      await Promise.all([this.refreshEvent(), this.loadPrompt(), this.refreshConsents()])
    } catch (err) {
      if (err.status === 409) {
        this.pendingSnooze = null
        wx.showToast({ title: '这条提醒已取消，无法推迟', icon: 'none' })
        try { await this.refreshEvent() } catch (e) { /* the page stays as it was */ }
      } else if (err.status === 422) {
        wx.showToast({ title: '无法推迟：' + Object.keys(err.fields).map((k) => k + ' ' + err.fields[k]).join('；'), icon: 'none' })
      } else {
        wx.showToast({ title: h.errorText(err), icon: 'none' })
      }
    } finally {
      this.setData({ snoozing: false })
    }
    // The switch was off (20004): report it so the hint shows.
    if (failure && failure.errCode === 20004) await this.resync()
  },

  onCancelTap () {
    wx.showModal({
      title: '取消会议',
      content: '确定取消这个会议吗？尚未发送的提醒都会取消。',
      confirmText: '取消会议',
      cancelText: '不了',
      success: (r) => { if (r.confirm) this.cancelEvent() }
    })
  },

  async cancelEvent () {
    try {
      this.show(await api.cancelEvent(this.ev.id))
      wx.showToast({ title: '已取消', icon: 'success' })
    } catch (err) {
      wx.showToast({ title: err.status === 409 ? '会议已结束或已取消' : h.errorText(err), icon: 'none' })
    }
    try { await this.refreshEvent() } catch (e) { /* the page stays as it was */ }
  },

  onHomeTap () {
    this.requestSilently()
    wx.reLaunch({ url: '/pages/index/index' })
  },

  onRefreshTap () {
    this.requestSilently()
    this.bootstrap()
  }
}))
