package store

// ReminderStore is what the JSON API, the admin API and the services ask
// of the store: reminders, consents, sessions, message push.
type ReminderStore interface {
}
