// reminderd example mini-program: a meeting app. pages/index creates
// meetings and lists them; pages/meeting/detail is what a reminder's message
// opens (稍后提醒). The session token lives in storage (utils/api.js), so
// nothing is global here.
App({
  onLaunch () {}
})
