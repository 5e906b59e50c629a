// Package wechat is reminderd's client for the WeChat mini-program server API
// and its message-push receiver.
//
// It is a leaf package: it imports no other internal package. Everything it
// knows about WeChat is written down in docs/wechat.md of the shared docs;
// the rules it enforces are the ones listed there.
//
// Invariants:
//   - No package globals: every Client is built from an explicit Config with
//     its own *http.Client, clock and logger.
//   - The AppSecret, access tokens and session keys never appear in an error
//     string, a log line or a value that can leave the process. Request URLs
//     that carry them are never formatted into errors.
//   - msgid values are kept exactly (int64 and decimal string), never float64.
package wechat
