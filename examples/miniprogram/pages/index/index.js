// The example's one page: consent, a meeting form, the user's reminders.
//
// The order of things follows WeChat's subscribe-message rules
// (docs/wechat.md §1-3):
//   1. on load: log in (wx.login → POST /v1/session), learn the meeting
//      template (GET /v1/templates) and which ids to ask for at the next tap
//      (GET /v1/consents/prompt), so that the tap handler has them ready;
//   2. on the tap of "开启会议提醒": wx.requestSubscribeMessage FIRST, then
//      report the raw result to POST /v1/consents;
//   3. the form creates reminders (POST /v1/reminders with an
//      Idempotency-Key); the list shows them and cancels them.

'use strict'

const api = require('../../utils/api.js')
const h = require('../../utils/helpers.js')
const config = require('../../config.js')

function emptyErrors () {
  return { title: '', when: '', place: '', lead: '', general: [] }
}

Page({
  data: {
    loading: true,
    loadError: '',

    meetingTitle: '',
    subscribeIds: [], // the tmplIds of the next wx.requestSubscribeMessage, prepared in advance
    credits: 0,
    consentStatus: '',
    longTerm: false,
    consentText: '',

    today: '',
    form: { title: '', date: '', time: '', place: '', leadIndex: 2 },
    leadOptions: h.LEAD_OPTIONS,
    errors: emptyErrors(),
    submitting: false,

    reminders: [],
    nextCursor: null,
    loadingMore: false
  },

  // Not in data: they are not rendered.
  meeting: null, // the meeting template of GET /v1/templates
  keys: null, // its keyword keys: {title, time, place}
  templates: [],
  pendingSubmit: null, // {key, body} of the last submission that did not succeed

  onLoad () {
    const now = Date.now()
    const d = h.defaultMeeting(now)
    this.setData({ today: h.todayText(now), 'form.date': d.date, 'form.time': d.time })
    this.bootstrap()
  },

  onPullDownRefresh () {
    this.bootstrap().then(function () { wx.stopPullDownRefresh() })
  },

  async bootstrap () {
    this.setData({ loading: true, loadError: '' })
    try {
      await api.ensureLogin()
      const both = await Promise.all([api.templates(), api.consentPrompt()])
      this.templates = both[0].templates || []
      this.meeting = h.findMeetingTemplate(this.templates, config.meetingTemplateId, config.meetingTemplateTitle)
      if (!this.meeting) {
        this.setData({ loading: false, loadError: '服务端没有“' + config.meetingTemplateTitle + '”模板（GET /v1/templates）' })
        return
      }
      this.keys = h.meetingFieldKeys(this.meeting)
      this.setData({ meetingTitle: this.meeting.title })
      this.applyPrompt(both[1])
      await Promise.all([this.refreshConsents(), this.refreshReminders()])
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

  // applyPrompt stores the ids to request at the next tap: the prompt's ids
  // (templates whose scheduled reminders lack credit, most urgent first), or
  // the meeting template when nothing lacks credit; at most 3, one kind.
  applyPrompt (prompt) {
    const ids = h.pickSubscribeIds((prompt && prompt.template_ids) || [], this.templates, this.meeting && this.meeting.id)
    this.setData({ subscribeIds: ids })
  },

  async refreshPrompt () {
    this.applyPrompt(await api.consentPrompt())
  },

  async refreshConsents (consents) {
    const list = consents || (await api.consents()).consents || []
    const mine = list.filter((c) => this.meeting && c.template_id === this.meeting.id)[0]
    let text = '尚未授权'
    if (mine && mine.long_term) text = '已长期授权'
    else if (mine && mine.credits > 0) text = '还可发送' + mine.credits + '次提醒'
    else if (mine && (mine.status === 'reject' || mine.status === 'ban')) text = '已拒绝，需重新授权'
    else if (mine && mine.status === 'unsubscribed') text = '已在设置中关闭，需重新授权'
    else if (mine && mine.status === 'refused') text = '用户已拒收，需重新授权'
    else if (mine && mine.status === 'filter') text = '模板被过滤，无法授权'
    else if (mine) text = '授权次数已用完，需重新授权'
    this.setData({
      credits: mine ? mine.credits : 0,
      consentStatus: mine ? mine.status : '',
      longTerm: !!(mine && mine.long_term),
      consentText: text
    })
  },

  onRefreshTap () {
    this.bootstrap()
  },

  // --- consent ----------------------------------------------------------------

  // onSubscribeTap is the bindtap handler of "开启会议提醒".
  //
  // wx.requestSubscribeMessage MUST be the first thing it does, synchronously:
  // WeChat shows the popup only while the user's tap is being handled. Any
  // await, setTimeout or network call before it (even fetching the ids)
  // loses the user gesture and the call fails ("can only be invoked by user
  // TAP gesture"). That is why the ids were fetched on load and kept in
  // data.subscribeIds. Do not make this handler async.
  onSubscribeTap () {
    const ids = this.data.subscribeIds.slice(0, h.MAX_SUBSCRIBE_IDS)
    if (ids.length === 0) {
      wx.showToast({ title: '模板尚未加载', icon: 'none' })
      return
    }
    wx.requestSubscribeMessage({
      tmplIds: ids,
      success: (res) => { this.reportConsent(res) },
      fail: (err) => { this.onSubscribeFail(err) }
    })
  },

  // reportConsent posts the result object unchanged: {"<id>":"accept"|
  // "reject"|"ban"|"filter"|…, "errMsg":"requestSubscribeMessage:ok"}. The
  // server keeps the ledger (one credit per accept, counted once even when
  // WeChat's popup event reports the same accept).
  async reportConsent (res) {
    try {
      const out = await api.reportConsents(res)
      await this.refreshConsents(out.consents)
      const accepted = h.acceptedIds(res).length > 0
      wx.showToast({ title: accepted ? '已开启提醒' : '未授权，提醒无法送达', icon: accepted ? 'success' : 'none' })
      await Promise.all([this.refreshPrompt(), this.refreshReminders()])
    } catch (err) {
      wx.showToast({ title: h.errorText(err), icon: 'none' })
    }
  },

  onSubscribeFail (err) {
    const code = err && err.errCode
    if (code === 20004) {
      // The user turned off "接收订阅消息" for this mini-program.
      wx.showModal({
        title: '订阅消息已关闭',
        content: '你关闭了本小程序的“接收订阅消息”开关。请在 右上角“…” → 设置 → 通知管理 中开启后再试。',
        confirmText: '去设置',
        success: (r) => {
          if (r.confirm) wx.openSetting({ withSubscriptions: true })
        }
      })
      return
    }
    wx.showToast({ title: h.subscribeFailMessage(code), icon: 'none' })
  },

  // --- the meeting form ------------------------------------------------------

  onTitleInput (e) { this.setData({ 'form.title': e.detail.value, 'errors.title': '' }) },
  onPlaceInput (e) { this.setData({ 'form.place': e.detail.value, 'errors.place': '' }) },
  onDateChange (e) { this.setData({ 'form.date': e.detail.value, 'errors.when': '', 'errors.lead': '' }) },
  onTimeChange (e) { this.setData({ 'form.time': e.detail.value, 'errors.when': '', 'errors.lead': '' }) },
  onLeadChange (e) { this.setData({ 'form.leadIndex': Number(e.detail.value), 'errors.lead': '' }) },

  async onSubmit () {
    if (this.data.submitting || !this.meeting) return
    const form = this.data.form
    const lead = h.LEAD_OPTIONS[form.leadIndex].minutes
    // Instant feedback with the rules the server enforces (thing ≤ 20
    // characters, no newlines, …); the server checks again and has the last word.
    const check = h.validateMeetingForm(form, lead, Date.now())
    if (!check.ok) {
      this.setData({ errors: Object.assign(emptyErrors(), check.errors) })
      return
    }
    const body = h.buildMeetingReminder(this.meeting, this.keys, form, lead, config.reminderPage)
    // One Idempotency-Key per submission, reused when the same body is sent
    // again (a second tap, a retry after a timeout): the server then returns
    // the reminder it already created instead of creating a second one.
    this.pendingSubmit = h.idempotencyFor(this.pendingSubmit, JSON.stringify(body))
    this.setData({ submitting: true, errors: emptyErrors() })
    try {
      const rem = await api.createReminder(body, this.pendingSubmit.key)
      this.pendingSubmit = null
      this.setData({ 'form.title': '', 'form.place': '' })
      wx.showToast({
        title: rem.consent && rem.consent.covered ? '提醒已创建' : '已创建，请开启会议提醒',
        icon: 'none'
      })
      await Promise.all([this.refreshPrompt(), this.refreshReminders()])
    } catch (err) {
      if (err.status === 422) {
        const placed = h.formErrorsFromFields(err.fields, this.keys)
        this.setData({ errors: Object.assign(emptyErrors(), placed) })
      } else {
        if (err.status === 409) this.pendingSubmit = null // the key was used with another body
        wx.showToast({ title: h.errorText(err), icon: 'none' })
      }
    } finally {
      this.setData({ submitting: false })
    }
  },

  // --- the list ------------------------------------------------------------------

  view (rem) {
    return h.reminderView(rem, this.meeting && this.meeting.id, this.keys)
  },

  async refreshReminders () {
    const page = await api.listReminders({ limit: config.pageSize })
    this.setData({
      reminders: (page.reminders || []).map((r) => this.view(r)),
      nextCursor: page.next_cursor || null
    })
  },

  async onLoadMore () {
    if (!this.data.nextCursor || this.data.loadingMore) return
    this.setData({ loadingMore: true })
    try {
      const page = await api.listReminders({ limit: config.pageSize, cursor: this.data.nextCursor })
      this.setData({
        reminders: this.data.reminders.concat((page.reminders || []).map((r) => this.view(r))),
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

  onCancelTap (e) {
    const id = e.currentTarget.dataset.id
    wx.showModal({
      title: '取消提醒',
      content: '确定取消这条提醒吗？',
      confirmText: '取消提醒',
      cancelText: '不了',
      success: (r) => { if (r.confirm) this.cancelReminder(id) }
    })
  },

  async cancelReminder (id) {
    try {
      const rem = await api.cancelReminder(id)
      this.replaceReminder(rem)
      wx.showToast({ title: '已取消', icon: 'success' })
      await this.refreshPrompt()
    } catch (err) {
      if (err.status === 409) {
        // Already sent, failed, skipped or canceled (or being sent right now).
        wx.showToast({ title: '已发送或已取消', icon: 'none' })
        try { this.replaceReminder(await api.getReminder(id)) } catch (e) { /* the list stays as it was */ }
      } else {
        wx.showToast({ title: h.errorText(err), icon: 'none' })
      }
    }
  },

  replaceReminder (rem) {
    const i = this.data.reminders.findIndex((r) => r.id === rem.id)
    if (i >= 0) this.setData({ ['reminders[' + i + ']']: this.view(rem) })
  }
})
