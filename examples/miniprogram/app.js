// reminderd example mini-program. Everything happens in pages/index; the
// session token lives in storage (utils/api.js), so nothing is global here.
App({
  onLaunch () {}
})
