// The consent part both pages share, mixed into their Page options
// (Page(Object.assign({}, consent.methods, {...}))): a page that uses it
// keeps this.templates (GET /v1/templates), this.prompt (the normalized
// GET /v1/consents/prompt) and this.preferredIds() (the ids to offer when the
// planner asks for nothing), and renders data.subscribeIds and data.hint.
//
// WeChat's rules drive the shape (docs/wechat.md §1, §7):
//   - wx.requestSubscribeMessage and wx.openSetting work only inside a tap,
//     called synchronously before any await: every tap handler here is a
//     plain function whose first statement is that call;
//   - ids saved as "always accept" (the prompt's `silent`) show no popup and
//     still add a credit, so any ordinary tap may request them
//     (requestSilently);
//   - ids always rejected or banned (`blocked`) and a main switch turned off
//     cannot be asked for: the page offers wx.openSetting instead, then
//     reports the new settings.

'use strict'

const api = require('./api.js')
const h = require('./helpers.js')

const methods = {
  // syncSettings reports wx.getSetting's subscriptionsSetting as is to
  // POST /v1/consents/settings, so that the planner knows what is silent
  // and what is blocked. A base library without it (before 2.10.1) reports
  // nothing. The report only sharpens the prompt: when it fails the page
  // goes on with the prompt the server already has.
  async syncSettings () {
    try {
      const setting = await api.getSubscriptionsSetting()
      return setting ? await api.reportSettings(setting) : null
    } catch (e) {
      console.warn('subscription settings not reported:', h.errorText(e))
      return null
    }
  },

  // loadPrompt asks the planner what to request at the next taps and
  // prepares them: data.subscribeIds for the button (popup), this.prompt for
  // silent requests, data.hint for the settings hint.
  async loadPrompt () {
    this.prompt = h.normalizePrompt(await api.consentPrompt())
    this.setData({
      subscribeIds: h.promptIds(this.prompt, this.templates, this.preferredIds()),
      hint: h.settingsHint(this.prompt, this.templates)
    })
    return this.prompt
  },

  // requestSilently is the first statement of an ordinary tap handler: when
  // the prompt has silent ids it requests them (no popup: the user chose
  // "always accept") and reports the result, earning their credits on the
  // way. Without silent ids it does nothing.
  requestSilently () {
    const ids = h.silentIds(this.prompt, this.templates)
    if (ids.length === 0) return false
    wx.requestSubscribeMessage({
      tmplIds: ids,
      success: (res) => { this.reportConsent(res, true) },
      fail: () => { /* a silent request that fails changes nothing */ }
    })
    return true
  },

  // onSubscribeTap is the bindtap handler of "开启会议提醒".
  //
  // wx.requestSubscribeMessage MUST be the first thing it does,
  // synchronously: WeChat shows the popup only while the user's tap is
  // being handled. Any await, setTimeout or network call before it (even
  // fetching the ids) loses the user gesture and the call fails ("can only
  // be invoked by user TAP gesture"). That is why the ids were fetched
  // before and kept in data.subscribeIds. Do not make this handler async.
  onSubscribeTap () {
    const ids = this.data.subscribeIds.slice(0, h.MAX_SUBSCRIBE_IDS)
    if (ids.length === 0) {
      wx.showToast({ title: this.data.hint && this.data.hint.show ? '请先在设置中开启订阅消息' : '模板尚未加载', icon: 'none' })
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
  // WeChat's popup event reports the same accept). quiet: a silent request,
  // no toast.
  async reportConsent (res, quiet) {
    try {
      const out = await api.reportConsents(res)
      await this.refreshConsents(out.consents)
      if (!quiet) {
        const accepted = h.acceptedIds(res).length > 0
        wx.showToast({ title: accepted ? '已开启提醒' : '未授权，提醒无法送达', icon: accepted ? 'success' : 'none' })
      }
      await this.afterConsent()
    } catch (err) {
      if (!quiet) wx.showToast({ title: h.errorText(err), icon: 'none' })
    }
  },

  onSubscribeFail (err) {
    const code = err && err.errCode
    if (code === 20004) {
      // The user turned off "接收订阅消息" for this mini-program: report it
      // (the prompt then says main_switch false and the hint shows) and
      // offer the settings page.
      this.resync()
      wx.showModal({
        title: '订阅消息已关闭',
        content: '你关闭了本小程序的“接收订阅消息”开关。请在 右上角“…” → 设置 → 通知管理 中开启后再试。',
        confirmText: '去设置',
        success: (r) => { if (r.confirm) this.onOpenSettingTap() }
      })
      return
    }
    wx.showToast({ title: h.subscribeFailMessage(code), icon: 'none' })
  },

  // onOpenSettingTap is the hint's "去设置" button: wx.openSetting first
  // (tap only, like the popup), then the settings the user left there are
  // reported and the prompt asked again.
  onOpenSettingTap () {
    const opened = api.openSubscriptionsSetting()
    opened.then(
      (setting) => (setting ? api.reportSettings(setting) : this.syncSettings()),
      () => this.syncSettings())
      .then(() => this.loadPrompt())
      .catch((err) => { wx.showToast({ title: h.errorText(err), icon: 'none' }) })
    return opened
  },

  // resync reports the current settings and asks the planner again.
  resync () {
    return this.syncSettings()
      .then(() => this.loadPrompt())
      .catch((err) => { wx.showToast({ title: h.errorText(err), icon: 'none' }) })
  },

  // consentSummary is the line of the consent card for the given templates:
  // the credits the user holds across them (they are alternatives: any of
  // them can carry a reminder).
  consentSummary (list, ids) {
    const mine = (list || []).filter((c) => ids.indexOf(c.template_id) >= 0)
    const credits = mine.reduce((n, c) => n + (c.credits || 0), 0)
    if (mine.some((c) => c.long_term && c.credits > 0)) return { credits: credits, text: '已长期授权' }
    if (credits > 0) return { credits: credits, text: '还可发送' + credits + '次提醒' }
    if (mine.length === 0) return { credits: 0, text: '尚未授权' }
    const statuses = mine.map((c) => c.status)
    if (statuses.indexOf('ban') >= 0 || statuses.indexOf('reject') >= 0) return { credits: 0, text: '已拒绝，需重新授权' }
    if (statuses.indexOf('unsubscribed') >= 0) return { credits: 0, text: '已在设置中关闭，需重新授权' }
    if (statuses.indexOf('refused') >= 0) return { credits: 0, text: '用户已拒收，需重新授权' }
    if (statuses.every((s) => s === 'filter')) return { credits: 0, text: '模板被过滤，无法授权' }
    return { credits: 0, text: '授权次数已用完，需重新授权' }
  }
}

module.exports = { methods: methods }
