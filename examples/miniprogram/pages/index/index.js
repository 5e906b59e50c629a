// The home page of the meeting app: consent, a new meeting (an event with
// several reminders), the user's meetings.
//
// The order of things follows WeChat's subscribe-message rules
// (docs/wechat.md §1-3, §7):
//   1. on load: log in (wx.login → POST /v1/session), learn the templates
//      (GET /v1/templates), report wx.getSetting's subscriptionsSetting
//      (POST /v1/consents/settings) and ask the planner what to request
//      (GET /v1/consents/prompt), so that the tap handlers have the ids ready;
//   2. on the tap of "开启会议提醒": wx.requestSubscribeMessage FIRST, then
//      report the raw result to POST /v1/consents; on other taps the
//      prompt's silent ids are requested first (no popup);
//   3. the form creates a meeting (POST /v1/events with an Idempotency-Key):
//      one reminder per lead, sent through the first of the meeting's
//      templates the user holds a credit for;
//   4. blocked templates or the main switch off: a hint with "去设置"
//      (wx.openSetting), then the settings are reported again.

'use strict'

const api = require('../../utils/api.js')
const h = require('../../utils/helpers.js')
const consent = require('../../utils/consent.js')
const config = require('../../config.js')

function emptyErrors () {
  return { title: '', when: '', place: '', lead: '', general: [] }
}

function leadChoices (selected) {
  return h.LEAD_CHOICES.map(function (c) {
    return { lead: c.lead, label: c.label, checked: selected.indexOf(c.lead) >= 0 }
  })
}

Page(Object.assign({}, consent.methods, {
  data: {
    loading: true,
    loadError: '',

    meetingTitle: '',
    templateTitles: '', // the meeting's alternative templates, for the card
    subscribeIds: [], // the tmplIds of the next wx.requestSubscribeMessage, prepared in advance
    hint: { show: false, text: '' }, // the wx.openSetting hint
    credits: 0,
    consentText: '',

    today: '',
    form: { title: '', date: '', time: '', place: '' },
    leads: config.defaultLeads.slice(),
    leadChoices: leadChoices(config.defaultLeads),
    errors: emptyErrors(),
    submitting: false,

    events: [],
    nextCursor: null,
    loadingMore: false
  },

  // Not in data: they are not rendered.
  meeting: null, // the meeting template of GET /v1/templates
  templates: [],
  prompt: h.normalizePrompt(null),
  pendingSubmit: null, // {key, body} of the last submission that did not succeed

  onLoad () {
    const now = Date.now()
    const d = h.defaultMeeting(now)
    this.setData({ today: h.todayText(now), 'form.date': d.date, 'form.time': d.time })
    this.bootstrap()
  },

  onShow () {
    // Back from the detail page, or from WeChat's own settings (右上角“…” →
    // 设置): the subscription settings, the ledger, the prompt and the list
    // may have changed.
    if (!this.meeting) return null
    return this.syncSettings()
      .then(() => this.reload())
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
      this.meeting = h.findMeetingTemplate(this.templates, config.meetingTemplateId, config.meetingTemplateTitle)
      if (!this.meeting) {
        this.setData({ loading: false, loadError: '服务端没有“' + config.meetingTemplateTitle + '”模板（GET /v1/templates）' })
        return
      }
      const alts = this.eventTemplates('M')
      this.setData({
        meetingTitle: this.meeting.title,
        templateTitles: alts.map((t) => this.templateTitle(t.template_id)).join('、')
      })
      await this.syncSettings()
      await this.reload()
      this.setData({ loading: false })
    } catch (err) {
      let text = h.errorText(err)
      if (err.code === 'invalid_code') {
        text += '（沙箱模式下真实 wx.login 的 code 无效：见 README，或在 config.js 设置 sandboxFakeWeChatURL）'
      } else if (err.code === 'network') {
        text += '（检查 config.js 的 baseURL；开发者工具中需勾选“不校验合法域名”）'
      }
      this.setData({ loading: false, loadError: text })
    }
  },

  reload () {
    return Promise.all([this.loadPrompt(), this.refreshConsents(), this.refreshEvents()])
  },

  // eventTemplates are the meeting's alternative templates with their data
  // (placeholders the server renders); code fills a 编号 keyword.
  eventTemplates (code) {
    return h.pickEventTemplates(this.templates, this.meeting, code, config.maxEventTemplates)
  },

  templateTitle (id) {
    const t = this.templates.filter((x) => x.id === id)[0]
    return t ? t.title : id
  },

  // preferredIds is what the subscribe button offers when the planner asks
  // for nothing: the meeting's templates, to subscribe ahead.
  preferredIds () {
    return this.meeting ? this.eventTemplates('M').map((t) => t.template_id) : []
  },

  afterConsent () {
    return Promise.all([this.loadPrompt(), this.refreshEvents()])
  },

  async refreshConsents (consents) {
    const list = consents || (await api.consents()).consents || []
    const s = this.consentSummary(list, this.preferredIds())
    this.setData({ credits: s.credits, consentText: s.text })
  },

  onRefreshTap () {
    this.requestSilently()
    this.bootstrap()
  },

  // --- the meeting form ------------------------------------------------------

  onTitleInput (e) { this.setData({ 'form.title': e.detail.value, 'errors.title': '' }) },
  onPlaceInput (e) { this.setData({ 'form.place': e.detail.value, 'errors.place': '' }) },
  onDateChange (e) { this.setData({ 'form.date': e.detail.value, 'errors.when': '', 'errors.lead': '' }) },
  onTimeChange (e) { this.setData({ 'form.time': e.detail.value, 'errors.when': '', 'errors.lead': '' }) },
  // The check boxes answer the checked values in tap order: keep them in
  // the list's order (longest lead first).
  onLeadsChange (e) {
    const picked = e.detail.value || []
    const leads = h.LEAD_CHOICES.map((c) => c.lead).filter((l) => picked.indexOf(l) >= 0)
    this.setData({ leads: leads, leadChoices: leadChoices(leads), 'errors.lead': '' })
  },

  // onSubmit is the bindtap of "创建会议": an ordinary tap, so the silent
  // ids go first (synchronously), then the meeting is created.
  onSubmit () {
    this.requestSilently()
    return this.submitEvent()
  },

  async submitEvent () {
    if (this.data.submitting || !this.meeting) return
    const form = this.data.form
    const leads = this.data.leads
    // Instant feedback with the rules the server enforces (thing ≤ 20
    // characters, no newlines, leads not all past, …); the server checks
    // again and has the last word.
    const check = h.validateEventForm(form, leads, Date.now())
    if (!check.ok) {
      this.setData({ errors: Object.assign(emptyErrors(), check.errors) })
      return
    }
    const templates = this.eventTemplates(h.meetingCode(form.date, form.time))
    // One Idempotency-Key per submission, reused when the same form is sent
    // again (a second tap, a retry after a timeout): the server then returns
    // the meeting it already created instead of a second one. The key is
    // also the meeting's external_ref, which the message's page carries.
    const draft = h.buildEvent(form, leads, templates, '', '')
    this.pendingSubmit = h.idempotencyFor(this.pendingSubmit, JSON.stringify(draft))
    const ref = this.pendingSubmit.key
    const body = h.buildEvent(form, leads, templates, ref, h.detailPage(config.eventPage, ref))
    this.setData({ submitting: true, errors: emptyErrors() })
    try {
      const ev = await api.createEvent(body, this.pendingSubmit.key)
      this.pendingSubmit = null
      this.setData({ 'form.title': '', 'form.place': '' })
      await Promise.all([this.loadPrompt(), this.refreshEvents()])
      wx.showToast({ title: this.createdText(ev), icon: 'none' })
    } catch (err) {
      if (err.status === 422) {
        const placed = h.eventErrorsFromFields(err.fields, body)
        this.setData({ errors: Object.assign(emptyErrors(), placed) })
      } else {
        if (err.status === 409) this.pendingSubmit = null // the key was used with another body
        wx.showToast({ title: h.errorText(err), icon: 'none' })
      }
    } finally {
      this.setData({ submitting: false })
    }
  },

  // createdText is the toast after a create: the leads the server skipped
  // (already past), else whether the reminders are covered (by the
  // reminders the answer carries, else by whether the prompt asks for more).
  createdText (ev) {
    const skipped = (ev && ev.leads_skipped) || []
    if (skipped.length) return '已创建，已跳过：' + skipped.map(h.leadLabel).join('、') + '（时间已过）'
    const uncovered = ev && ev.reminders
      ? ev.reminders.some((r) => !(r.consent && r.consent.covered))
      : this.prompt.template_ids.length > 0
    return uncovered ? '已创建，请开启会议提醒' : '会议已创建'
  },

  // --- the list ------------------------------------------------------------------

  view (ev) {
    return h.eventView(ev, this.templates)
  },

  async refreshEvents () {
    const page = await api.listEvents({ limit: config.pageSize })
    this.setData({
      events: (page.events || []).map((e) => this.view(e)),
      nextCursor: page.next_cursor || null
    })
  },

  async onLoadMore () {
    if (!this.data.nextCursor || this.data.loadingMore) return
    this.setData({ loadingMore: true })
    try {
      const page = await api.listEvents({ limit: config.pageSize, cursor: this.data.nextCursor })
      this.setData({
        events: this.data.events.concat((page.events || []).map((e) => this.view(e))),
        nextCursor: page.next_cursor || null
      })
    } catch (err) {
      wx.showToast({ title: h.errorText(err), icon: 'none' })
    } finally {
      this.setData({ loadingMore: false })
    }
  },

  onReachBottom () {
    this.onLoadMore()
  },

  // onEventTap opens the meeting's page (an ordinary tap: silent ids first).
  onEventTap (e) {
    this.requestSilently()
    wx.navigateTo({ url: '/' + config.eventPage + '?id=' + encodeURIComponent(e.currentTarget.dataset.id) })
  },

  onCancelTap (e) {
    const id = e.currentTarget.dataset.id
    wx.showModal({
      title: '取消会议',
      content: '确定取消这个会议吗？尚未发送的提醒都会取消。',
      confirmText: '取消会议',
      cancelText: '不了',
      success: (r) => { if (r.confirm) this.cancelEvent(id) }
    })
  },

  async cancelEvent (id) {
    try {
      const ev = await api.cancelEvent(id)
      this.replaceEvent(ev)
      wx.showToast({ title: '已取消', icon: 'success' })
      await this.loadPrompt()
    } catch (err) {
      if (err.status === 409) {
        wx.showToast({ title: '会议已结束或已取消', icon: 'none' })
        try { this.replaceEvent(await api.getEvent(id)) } catch (e) { /* the list stays as it was */ }
      } else {
        wx.showToast({ title: h.errorText(err), icon: 'none' })
      }
    }
  },

  replaceEvent (ev) {
    const i = this.data.events.findIndex((x) => x.id === ev.id)
    if (i >= 0) this.setData({ ['events[' + i + ']']: this.view(ev) })
  }
}))
