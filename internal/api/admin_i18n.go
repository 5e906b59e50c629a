package api

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// The admin page speaks Chinese by default and English on request. Every
// string the pages show comes from texts, one table for both languages:
// the UI's own words, a plain sentence for every reminder status, reason
// and delivery status, and for the WeChat errcodes an admin meets
// (docs/wechat.md §2). admin_i18n_internal_test.go checks that every status,
// reason and delivery status the code knows, and every errcode constant of
// internal/wechat, has both.

// lang is the page's language: "zh" or "en".
type lang string

const (
	langZH     lang = "zh"
	langEN     lang = "en"
	langCookie      = "reminderd_lang"
)

// pickLang chooses the language: the cookie set by the page's switch
// (GET /admin/prefs?lang=…), else the first of Accept-Language (by q) that
// is Chinese or English, else Chinese.
func pickLang(r *http.Request) lang {
	if c, err := r.Cookie(langCookie); err == nil {
		switch c.Value {
		case "en":
			return langEN
		case "zh":
			return langZH
		}
	}
	best, bestQ := langZH, -1.0
	for part := range strings.SplitSeq(r.Header.Get("Accept-Language"), ",") {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				q = f
			}
		}
		tag = strings.ToLower(tag)
		var l lang
		switch {
		case tag == "zh" || strings.HasPrefix(tag, "zh-"):
			l = langZH
		case tag == "en" || strings.HasPrefix(tag, "en-"):
			l = langEN
		default:
			continue
		}
		if q > bestQ {
			best, bestQ = l, q
		}
	}
	return best
}

// HTML is the value of <html lang>.
func (l lang) HTML() string {
	if l == langEN {
		return "en"
	}
	return "zh-CN"
}

// Other is the language the switch offers.
func (l lang) Other() lang {
	if l == langEN {
		return langZH
	}
	return langEN
}

// T is the text for key; an unknown key shows as itself (a test keeps the
// table complete).
func (l lang) T(key string) string {
	v, ok := texts[key]
	if !ok {
		return key
	}
	if l == langEN {
		return v[1]
	}
	return v[0]
}

// F is T with fmt arguments.
func (l lang) F(key string, args ...any) string { return fmt.Sprintf(l.T(key), args...) }

// Status, Reason, Delivery and Errcode explain a value of each vocabulary;
// a value the table lacks shows as is.
func (l lang) Status(s string) string   { return l.or("status."+s, s) }
func (l lang) Reason(s string) string   { return l.or("reason."+s, s) }
func (l lang) Delivery(s string) string { return l.or("delivery."+s, s) }
func (l lang) Errcode(code string) string {
	if code == "" || code == "0" {
		return ""
	}
	return l.or("errcode."+code, "")
}

func (l lang) or(key, fallback string) string {
	if _, ok := texts[key]; !ok {
		return fallback
	}
	return l.T(key)
}

// texts: key → {Chinese, English}.
var texts = map[string][2]string{
	// Reminder statuses (statuses).
	"status.scheduled": {"已排期", "scheduled"},
	"status.sending":   {"发送中", "sending"},
	"status.sent":      {"已发送", "sent"},
	"status.failed":    {"失败", "failed"},
	"status.skipped":   {"已跳过", "skipped"},
	"status.canceled":  {"已取消", "canceled"},
	// Reasons (schema.sql, reminders.reason).
	"reason.no_consent":        {"用户未授权，需在小程序内再次订阅", "The user gave no consent: they must subscribe again in the mini-program"},
	"reason.expired":           {"已过提醒时限，未发送（不会迟发）", "Past its window: not sent late"},
	"reason.user_refused":      {"用户拒收或已退订（43101），需用户再次订阅", "The user refused or unsubscribed (43101): they must subscribe again"},
	"reason.invalid_data":      {"消息内容不符合模板规则（47003），需修改后重建", "A value breaks the template's rules (47003): fix it and create the reminder again"},
	"reason.template_invalid":  {"模板已不存在或无效（40037），请检查小程序后台的模板", "The template no longer exists (40037): check the templates in the mini-program console"},
	"reason.openid_invalid":    {"用户 openid 无效或不属于本小程序（40003）", "The openid is invalid or belongs to another app (40003)"},
	"reason.page_invalid":      {"跳转页面无效（41030），请确认页面已发布", "The page is invalid (41030): check that it is published"},
	"reason.content_rejected":  {"内容含敏感词被微信拒绝（45168），需修改内容", "WeChat rejected the content as sensitive (45168): change the text"},
	"reason.banned":            {"小程序的订阅消息能力已被封禁（43107）", "The mini-program's subscribe messages are banned (43107)"},
	"reason.retries_exhausted": {"多次临时失败，重试次数或时限已用完", "Transient failures used up the retries within its window"},
	// Delivery statuses (schema.sql, deliveries.status).
	"delivery.sending":   {"发送中", "sending"},
	"delivery.sent":      {"已发送", "sent"},
	"delivery.failed":    {"失败（不再重试）", "failed (not retried)"},
	"delivery.retry":     {"临时失败，稍后重试", "transient failure, retried later"},
	"delivery.deferred":  {"推迟（未计入尝试次数）", "deferred (not counted as an attempt)"},
	"delivery.skipped":   {"已跳过", "skipped"},
	"delivery.abandoned": {"租约过期，结果未知", "lease expired, outcome unknown"},
	"delivery.unknown":   {"结果未知，等待微信回执", "outcome unknown, waiting for WeChat's event"},
	"delivery.duplicate": {"重复发送（此次已发送过）", "duplicate (the occurrence was already sent)"},
	// WeChat errcodes (internal/wechat/errors.go).
	"errcode.-1":    {"微信系统繁忙，稍后重试", "WeChat is busy; retried later"},
	"errcode.40001": {"access_token 无效，已重新获取", "access token invalid; fetched again"},
	"errcode.40013": {"AppID 无效，请检查配置", "invalid AppID: check the configuration"},
	"errcode.40014": {"access_token 不合法，已重新获取", "access token not valid; fetched again"},
	"errcode.40003": {"openid 无效", "invalid openid"},
	"errcode.40029": {"登录 code 无效或已使用", "login code invalid or used"},
	"errcode.40037": {"模板 ID 无效", "invalid template id"},
	"errcode.40125": {"AppSecret 无效，请检查配置", "invalid AppSecret: check the configuration"},
	"errcode.40164": {"服务器 IP 不在微信白名单中", "the server's IP is not whitelisted at WeChat"},
	"errcode.40226": {"用户已被封禁，无法登录", "the user is blocked"},
	"errcode.41030": {"跳转页面不存在或未发布", "the page does not exist or is not published"},
	"errcode.42001": {"access_token 已过期，已重新获取", "access token expired; fetched again"},
	"errcode.43101": {"用户拒绝接收或没有剩余授权次数", "the user refused, or has no credit left"},
	"errcode.43107": {"订阅消息能力被封禁", "subscribe messages are banned"},
	"errcode.43108": {"同时向该用户发送过多，稍后重试", "concurrent sends to the user; retried later"},
	"errcode.45009": {"今日调用量已达上限，北京时间零点后恢复", "daily quota reached; resumes at midnight Beijing time"},
	"errcode.45011": {"调用过于频繁", "calls too frequent"},
	"errcode.45168": {"内容含有敏感词", "the content contains sensitive words"},
	"errcode.47003": {"参数不符合规则（errmsg 指明字段）", "an argument breaks a rule (errmsg names the field)"},
	"errcode.87014": {"内容含有违规内容", "the content breaks WeChat's rules"},

	// Consent statuses in the ledger (schema.sql, consents.status).
	"consent.accept":       {"已同意", "accepted"},
	"consent.reject":       {"已拒绝", "rejected"},
	"consent.ban":          {"已被微信封禁（后台屏蔽）", "banned by WeChat"},
	"consent.filter":       {"被微信过滤（标题同名）", "filtered by WeChat"},
	"consent.unsubscribed": {"已在设置中关闭订阅", "turned off in the user's settings"},
	"consent.refused":      {"发送时被拒（43101）", "refused at a send (43101)"},

	// The pages.
	"app":             {"reminderd 管理后台", "reminderd admin"},
	"nav.reminders":   {"提醒", "Reminders"},
	"nav.engine":      {"引擎", "Engine"},
	"nav.consents":    {"授权记录", "Consent ledger"},
	"signout":         {"退出登录", "Sign out"},
	"lang.switch":     {"English", "中文"},
	"refresh.on":      {"自动刷新：开（每 30 秒）", "Auto-refresh: on (every 30 s)"},
	"refresh.off":     {"自动刷新：关", "Auto-refresh: off"},
	"refresh.turnoff": {"关闭", "turn off"},
	"refresh.turnon":  {"开启", "turn on"},
	"paused.banner":   {"发送已暂停（%s 起）：到期的提醒不会发出，直到恢复发送。", "Sending is paused (since %s): due reminders are not sent until it is resumed."},
	"paused.reason":   {"原因：", "Reason: "},
	"paused.resume":   {"恢复发送", "Resume sending"},
	"pause.do":        {"暂停发送", "Pause sending"},
	"pause.reason":    {"暂停原因（可选）", "Reason (optional)"},
	"pause.state":     {"管理员暂停", "Admin pause"},
	"pause.none":      {"未暂停", "not paused"},

	"signin.title":   {"登录", "Sign in"},
	"signin.token":   {"管理令牌（REMINDERD_ADMIN_TOKEN）", "Admin token (REMINDERD_ADMIN_TOKEN)"},
	"signin.button":  {"登录", "Sign in"},
	"signin.hint":    {"令牌只校验一次，不会出现在网址中；会话保存在 HttpOnly Cookie 中，有效 12 小时。", "The token is checked once and never placed in a URL; the session lives in an HttpOnly cookie for 12 hours."},
	"signin.wrong":   {"管理令牌不正确。", "That is not the admin token."},
	"signin.ended":   {"会话已结束，请重新登录。", "Your session has ended: sign in again."},
	"disabled.title": {"已停用", "Disabled"},
	"disabled.text":  {"管理后台未启用：请设置 REMINDERD_ADMIN_TOKEN。", "The admin page is disabled: set REMINDERD_ADMIN_TOKEN."},
	"refused.title":  {"已拒绝", "Refused"},
	"refused.form":   {"表单被拒绝（页面已过期或跨站请求）。请刷新页面后重试。", "The form was refused (stale page or cross-site request). Reload the page and try again."},
	"error.title":    {"出错了", "Error"},
	"error.text":     {"出错了，详情见服务器日志。", "Something went wrong; the details are in the server log."},
	"notfound.title": {"未找到", "Not found"},
	"notfound.text":  {"没有提醒 %s。", "No reminder %s."},
	"back.list":      {"← 提醒列表", "← Reminders"},

	"list.title":       {"提醒", "Reminders"},
	"list.all":         {"全部", "all"},
	"list.search":      {"搜索", "Search"},
	"list.search.hint": {"提醒 ID 或内容，如 项目评审会", "reminder id or text, e.g. 项目评审会"},
	"list.status":      {"状态", "Status"},
	"list.any":         {"不限", "any"},
	"list.openid":      {"OpenID", "OpenID"},
	"list.template":    {"模板", "Template"},
	"list.from":        {"触发时间从", "Fires from"},
	"list.to":          {"至", "to"},
	"list.filter":      {"筛选", "Filter"},
	"list.clear":       {"清除", "Clear"},
	"list.hint":        {"筛选中的时间为 %s 时间，按触发时间排序。状态标签上的数字是全部提醒的总数。内容搜索每页最多读取 %d 条索引。", "Times in the filters are in %s. Listed by fire time. The counts on the tabs are over all reminders. A text search reads at most %d index entries per page."},
	"list.id":          {"提醒", "Reminder"},
	"list.fireat":      {"触发时间", "Fires at"},
	"list.attempts":    {"尝试次数", "Attempts"},
	"list.consent":     {"授权", "Consent"},
	"list.covered":     {"已授权", "covered"},
	"list.nocredit":    {"无授权次数", "no credit"},
	"list.recurring":   {"重复", "recurring"},
	"list.none":        {"没有符合条件的提醒。", "No reminders match."},
	"list.short":       {"本页读取的提醒中没有符合条件的：按模板或内容筛选时每页只读取有限的一段，下一页继续读取。", "None of the reminders this page read matches: a page filtered by template or text reads a bounded stretch of the list. The next page reads on."},
	"list.next":        {"下一页 →", "Next page →"},
	"list.prev":        {"← 上一页", "← Previous page"},
	"list.first":       {"« 第一页", "« First page"},
	"list.select":      {"选择", "Select"},
	"list.selectall":   {"选择全部符合筛选条件的提醒", "Select all reminders matching the filter"},
	"bulk.cancel":      {"取消所选", "Cancel selected"},
	"bulk.retry":       {"重试所选", "Retry selected"},
	"bulk.cancel.n":    {"取消所选 %d 条", "Cancel %d selected"},
	"bulk.retry.n":     {"重试所选 %d 条", "Retry %d selected"},
	"bulk.cancel.all":  {"取消全部符合条件的", "Cancel all matching"},
	"bulk.retry.all":   {"重试全部符合条件的", "Retry all matching"},
	"bulk.none":        {"没有选择任何提醒。", "No reminder was selected."},
	"bulk.toomany":     {"符合条件的提醒超过 %d 条，请缩小筛选范围。", "More than %d reminders match: narrow the filter."},

	"confirm.title":        {"请确认", "Please confirm"},
	"confirm.cancel":       {"确定要取消 %d 条提醒吗？只有“已排期”的会被取消，取消后无法恢复。", "Cancel %d reminder(s)? Only scheduled ones are canceled; this cannot be undone."},
	"confirm.retry":        {"确定要重试 %d 条提醒吗？失败或跳过的提醒将立即重新排期；原因无法通过重试解决的（如内容被拒、模板无效）不会重试。", "Retry %d reminder(s)? Failed or skipped ones are scheduled again now; those whose reason a retry cannot fix (content rejected, template invalid …) are left alone."},
	"confirm.cancel.one":   {"确定要取消提醒 %s 吗？取消后无法恢复。", "Cancel reminder %s? This cannot be undone."},
	"confirm.yes.cancel":   {"确认取消", "Yes, cancel"},
	"confirm.yes.retry":    {"确认重试", "Yes, retry"},
	"confirm.no":           {"返回，不做更改", "Go back, change nothing"},
	"confirm.pause":        {"确定要暂停所有发送吗？到期的提醒将保持排期，直到恢复发送。", "Pause all sending? Due reminders stay scheduled until sending resumes."},
	"confirm.yes.pause":    {"确认暂停", "Yes, pause"},
	"done.canceled":        {"提醒已取消。", "The reminder was canceled."},
	"done.retried":         {"提醒已重新排期，立即发送。", "The reminder is scheduled again, now."},
	"done.paused":          {"发送已暂停。", "Sending is paused."},
	"done.resumed":         {"发送已恢复。", "Sending has resumed."},
	"done.bulk.cancel":     {"已取消 %d 条；%d 条无法取消（已不在排期中）；%d 条不存在。", "Canceled %d; %d could not be canceled (no longer scheduled); %d not found."},
	"done.bulk.retry":      {"已重试 %d 条；%d 条不可重试（不是失败或跳过）；%d 条因原因无法通过重试解决而未重试；%d 条不存在。", "Retried %d; %d not retryable (not failed or skipped); %d left alone (a retry cannot fix their reason); %d not found."},
	"conflict.cancel":      {"提醒 %s 已不能取消：它已不在排期中。", "Reminder %s can no longer be canceled: it is not scheduled any more."},
	"conflict.retry":       {"提醒 %s 不能重试：只有失败或跳过的提醒可以重试。", "Reminder %s cannot be retried: only a failed or skipped reminder can."},
	"retry.warn.consent":   {"用户目前没有该模板的授权次数，重试也会被跳过。请让用户在小程序内再次订阅后再重试。", "The user has no credit for this template now: a retry would be skipped again. Ask the user to subscribe again in the mini-program, then retry."},
	"retry.warn.permanent": {"重试无法解决此原因：需要先修正问题（内容、模板、页面或用户），再创建新的提醒。", "A retry cannot fix this reason: fix the cause (content, template, page or user) and create a new reminder."},

	"detail.title":      {"提醒 %s", "Reminder %s"},
	"detail.status":     {"状态", "Status"},
	"detail.openid":     {"OpenID", "OpenID"},
	"detail.template":   {"模板", "Template"},
	"detail.fireat":     {"触发时间", "Fires at"},
	"detail.expiresat":  {"截止时间", "Expires at"},
	"detail.recurrence": {"重复规则", "Recurrence"},
	"detail.page":       {"跳转页面", "Page"},
	"detail.attempts":   {"尝试次数", "Attempts"},
	"detail.consent":    {"授权", "Consent"},
	"detail.credits":    {"%d 次授权", "%d credit(s)"},
	"detail.covered":    {"已覆盖", "covered"},
	"detail.uncovered":  {"未覆盖", "not covered"},
	"detail.created":    {"创建时间", "Created"},
	"detail.updated":    {"更新时间", "Updated"},
	"detail.data":       {"内容", "Data"},
	"detail.field":      {"字段", "Field"},
	"detail.label":      {"名称", "Label"},
	"detail.value":      {"值", "Value"},
	"detail.cancel":     {"取消提醒", "Cancel reminder"},
	"detail.retry":      {"立即重试", "Retry now"},
	"detail.attempts.h": {"发送记录", "Delivery attempts"},
	"detail.occurrence": {"所属触发", "Occurrence"},
	"detail.started":    {"开始时间", "Started"},
	"detail.errmsg":     {"errmsg", "errmsg"},
	"detail.meaning":    {"说明", "Meaning"},
	"detail.latency":    {"耗时", "Latency"},
	"detail.delivered":  {"已送达", "Delivered"},
	"detail.noattempt":  {"尚无发送记录。", "No attempt yet."},
	"yes":               {"是", "yes"},
	"no":                {"否", "no"},

	"engine.title":          {"引擎", "Engine"},
	"engine.breaker":        {"熔断器", "Circuit breaker"},
	"engine.token":          {"access_token 到期", "Access token expires"},
	"engine.notoken":        {"未缓存 token", "no token cached"},
	"engine.quota":          {"额度暂停", "Quota pause"},
	"engine.quota.on":       {"暂停至 %s", "paused until %s"},
	"engine.backlog":        {"待发送积压", "Due backlog"},
	"engine.oldest":         {"（最早已等待 %s）", " (oldest waiting %s)"},
	"engine.reminders":      {"提醒", "Reminders"},
	"engine.fleet":          {"进程", "Processes"},
	"engine.fleet.n":        {"%d 个在线；主进程（运行定时任务）：%s", "%d live; the leader (runs the periodic jobs): %s"},
	"engine.fleet.noleader": {"暂无", "none yet"},
	"engine.jobs":           {"定时任务", "Periodic jobs"},
	"engine.job":            {"任务", "Job"},
	"engine.schedule":       {"周期", "Schedule"},
	"engine.lastrun":        {"上次运行", "Last run"},
	"engine.nextrun":        {"下次运行", "Next run"},
	"engine.lasterror":      {"上次错误", "Last error"},
	"engine.nojobs":         {"没有定时任务。", "No periodic jobs."},
	"engine.trend":          {"最近 24 小时（每小时）", "The last 24 hours, per hour"},
	"engine.trend.alt":      {"最近 24 小时每小时的发送、失败、重试和跳过次数", "Sends, failures, retries and skips per hour over the last 24 hours"},
	"trend.sent":            {"已发送", "sent"},
	"trend.failed":          {"失败", "failed"},
	"trend.retry":           {"重试", "retried"},
	"trend.skipped":         {"跳过", "skipped"},
	"trend.total":           {"24 小时合计：发送 %d，失败 %d，重试 %d，跳过 %d；当前积压 %d。", "24 h totals: sent %d, failed %d, retried %d, skipped %d; backlog now %d."},
	"breaker.closed":        {"正常（closed）", "closed"},
	"breaker.open":          {"已熔断（open）：暂停发送", "open: sending paused"},
	"breaker.half_open":     {"试探中（half_open）", "half open"},

	"consents.title":    {"授权记录", "Consent ledger"},
	"consents.show":     {"查看", "Show"},
	"consents.template": {"模板", "Template"},
	"consents.kind":     {"类型", "Kind"},
	"consents.credits":  {"授权次数", "Credits"},
	"consents.status":   {"状态", "Status"},
	"consents.updated":  {"更新时间", "Updated"},
	"consents.longterm": {"长期订阅（已授权）", "long-term (granted)"},
	"consents.onetime":  {"一次性订阅", "one-time"},
	"consents.none":     {"该用户没有上报过授权。", "This user has reported no consent."},
	"consents.list":     {"该用户的提醒 →", "This user's reminders →"},

	"nav.events":              {"会议", "Events"},
	"events.title":            {"会议与提前提醒", "Events and their leads"},
	"events.hint":             {"每个会议的每个提前量是一条提醒；发送时使用列表中第一个用户有授权的模板。", "Each lead of an event is one reminder; it is sent through the first template in the event's list the user holds a credit for."},
	"events.event":            {"会议", "Event"},
	"events.lead":             {"提前量", "Lead"},
	"events.template":         {"使用的模板", "Template used"},
	"events.alternatives":     {"备选模板", "Templates"},
	"events.none":             {"没有会议。", "No events."},
	"events.noleads":          {"没有提醒（提前量都已过去）。", "No reminders (every lead was already past)."},
	"events.next":             {"下一页 →", "Next page →"},
	"events.status.scheduled": {"待发送", "scheduled"},
	"events.status.done":      {"已完成", "done"},
	"events.status.canceled":  {"已取消", "canceled"},
	// The webhooks page (admin_webhooks.go).
	"nav.webhooks":      {"Webhook", "Webhooks"},
	"webhooks.title":    {"Webhook 投递", "Webhook deliveries"},
	"webhooks.disabled": {"未配置 Webhook（REMINDERD_WEBHOOK_URL）。", "No webhook is configured (REMINDERD_WEBHOOK_URL)."},
	"webhooks.state":    {"状态", "State"},
	"webhooks.type":     {"事件", "Event"},
	"webhooks.attempts": {"尝试次数", "Attempts"},
	"webhooks.created":  {"产生时间", "Created"},
	"webhooks.next":     {"下次尝试", "Next attempt"},
	"webhooks.error":    {"最近错误", "Last error"},
	"webhooks.retry":    {"立即重试", "Retry now"},
	"webhooks.retried":  {"已安排重试。", "The delivery is due again now."},
	"webhooks.none":     {"没有此状态的投递。", "No deliveries in this state."},
}
