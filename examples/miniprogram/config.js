// Where the mini-program finds reminderd, and a few knobs of this example.
//
// baseURL: for local testing in WeChat DevTools, http://127.0.0.1:8080 works
// once "不校验合法域名、web-view（业务域名）、TLS 版本以及 HTTPS 证书" is ticked
// (详情 → 本地设置; project.config.json sets urlCheck: false for this).
// On a phone, in trial and in production, WeChat only lets wx.request reach an
// HTTPS domain that is listed in the mini-program console under
// 开发管理 → 开发设置 → 服务器域名 → request合法域名: put reminderd behind such a
// domain (TLS terminated by your reverse proxy) and set baseURL to it, e.g.
// 'https://reminders.example.com'. No IP addresses, no ports other than 443.
module.exports = {
  baseURL: 'http://127.0.0.1:8080',

  // Milliseconds before a wx.request gives up.
  timeout: 10000,

  // How the page finds the meeting template among GET /v1/templates: by id
  // when meetingTemplateId is set (the priTmplId from the console), otherwise
  // the first one-time template titled meetingTemplateTitle.
  meetingTemplateId: '',
  meetingTemplateTitle: '会议提醒',

  // The page a delivered reminder opens when the user taps it (single
  // reminders, POST /v1/reminders).
  reminderPage: 'pages/index/index',

  // The page a meeting's reminder opens (the subscribe message card): the
  // meeting's detail page with 稍后提醒. The meeting's ref is appended
  // (?ref=…) because the event's id is not known before it is created.
  eventPage: 'pages/meeting/detail',

  // The leads a new meeting starts with (ISO 8601 durations, 1–5 of
  // helpers.LEAD_CHOICES): the day before and 15 minutes before.
  defaultLeads: ['P1D', 'PT15M'],

  // How many templates a meeting lists as alternatives (1–3): the meeting
  // template first, then other one-time templates the meeting can fill. A
  // lead is sent through the first of them the user holds a credit for, so
  // one popup that accepts two templates covers two leads.
  maxEventTemplates: 2,

  // Reminders fetched per page of the list.
  pageSize: 10,

  // DEVELOPMENT ONLY, sandbox only. In sandbox mode (`go run ./cmd/reminderd`
  // without an AppID) reminderd talks to a built-in fake WeChat, which cannot
  // accept the codes real wx.login() returns. Set this to the fake's URL that
  // reminderd prints at start ("sandbox: fake WeChat at http://127.0.0.1:NNNNN")
  // and the example asks the fake for a login code (POST /fake/login) instead
  // of calling wx.login(). Leave it empty for anything but a local sandbox.
  sandboxFakeWeChatURL: '',
  sandboxOpenID: 'sandbox-user'
}
