package app

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/reminderd/reminderd/internal/store"
)

// adoptRows gives the configured app the sessions and reminders written
// before apps existed (migration 10 leaves them without an AppID), so that
// an upgraded deployment's users keep their sessions and reminders.
func adoptRows(ctx context.Context, s store.Apps, appID string, log *slog.Logger) error {
	if appID == "" {
		return nil
	}
	n, err := s.AdoptRows(ctx, appID)
	if err != nil {
		return fmt.Errorf("give the rows written before apps existed to app %s: %w", appID, err)
	}
	if n > 0 {
		log.Info("rows written before apps existed now belong to the configured app", "appid", appID, "rows", n)
	}
	return nil
}
