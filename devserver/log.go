package devserver

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync/atomic"

	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/log/tag"
	"go.uber.org/zap/zapcore"
)

// minLevel is a slog.Handler that drops records below a level, whatever the wrapped handler allows.
type minLevel struct {
	slog.Handler
	level slog.Level
}

func (h minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.level && h.Handler.Enabled(ctx, l)
}

func (h minLevel) WithAttrs(attrs []slog.Attr) slog.Handler {
	return minLevel{h.Handler.WithAttrs(attrs), h.level}
}

func (h minLevel) WithGroup(name string) slog.Handler {
	return minLevel{h.Handler.WithGroup(name), h.level}
}

// serverLogger adapts the server's log.Logger to slog, keeping warnings and errors only: the
// server logs every shard movement and membership change at info. Once quiet is set (by Stop) it
// drops everything: shutting services down in turn makes the rest complain about the missing ones,
// and some of the server's goroutines outlive Stop.
type serverLogger struct {
	l     *slog.Logger
	quiet *atomic.Bool
}

var (
	_ log.Logger     = serverLogger{}
	_ log.WithLogger = serverLogger{}
)

func newServerLogger(l *slog.Logger, quiet *atomic.Bool) serverLogger {
	return serverLogger{l.With("component", "temporal-server"), quiet}
}

func (s serverLogger) Debug(string, ...tag.Tag) {}
func (s serverLogger) Info(string, ...tag.Tag)  {}

func (s serverLogger) Warn(msg string, tags ...tag.Tag) {
	s.log(slog.LevelWarn, msg, tags)
}

func (s serverLogger) Error(msg string, tags ...tag.Tag) {
	s.log(slog.LevelError, msg, tags)
}

// DPanic is an error outside the server's development mode.
func (s serverLogger) DPanic(msg string, tags ...tag.Tag) {
	s.log(slog.LevelError, msg, tags)
}

func (s serverLogger) Panic(msg string, tags ...tag.Tag) {
	s.log(slog.LevelError, msg, tags)
	panic(msg)
}

// Fatal panics instead of exiting the process: the server calls it for start-up failures (a port
// it cannot bind, say), and Start recovers those into an error. Called from one of the server's
// own goroutines it still ends the process, as the server intends.
func (s serverLogger) Fatal(msg string, tags ...tag.Tag) {
	s.log(slog.LevelError, msg, tags)
	panic(fatalError{msg: msg, attrs: attrs(tags)})
}

func (s serverLogger) With(tags ...tag.Tag) log.Logger {
	return serverLogger{s.l.With(attrs(tags)...), s.quiet}
}

func (s serverLogger) log(level slog.Level, msg string, tags []tag.Tag) {
	if s.quiet.Load() || !s.l.Enabled(context.Background(), level) {
		return
	}
	a := attrs(tags)
	if expected(msg, a) {
		return
	}
	s.l.Log(context.Background(), level, msg, a...)
}

// expected reports warnings that every start of this dev server produces and that need no action.
func expected(msg string, attrs []any) bool {
	// We run the frontend without its HTTP API (and so without Nexus over HTTP).
	if strings.HasPrefix(msg, "HTTP API port has not been set") {
		return true
	}
	// The worker service dials the frontend while the frontend is still starting; it retries.
	for _, a := range attrs {
		if a, ok := a.(slog.Attr); ok && a.Key == "error" && strings.Contains(a.Value.String(), "Frontend is not healthy yet") {
			return true
		}
	}
	return false
}

// attrs turns tags into slog attributes. Most tags wrap a zap field, which may encode to more than
// one key (an error adds its verbose form); all of them are kept, in a stable order.
func attrs(tags []tag.Tag) []any {
	out := make([]any, 0, len(tags))
	for _, t := range tags {
		zt, ok := t.(tag.ZapTag)
		if !ok {
			out = append(out, slog.Any(t.Key(), t.Value()))
			continue
		}
		enc := zapcore.NewMapObjectEncoder()
		zt.Field().AddTo(enc)
		for _, k := range slices.Sorted(maps.Keys(enc.Fields)) {
			out = append(out, slog.Any(k, enc.Fields[k]))
		}
	}
	return out
}

// fatalError is the panic value of serverLogger.Fatal.
type fatalError struct {
	msg   string
	attrs []any
}

func (e fatalError) String() string {
	if len(e.attrs) == 0 {
		return e.msg
	}
	return fmt.Sprintf("%s %v", e.msg, e.attrs)
}
