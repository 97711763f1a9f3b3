package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/steward-oss/steward/db"
	"github.com/steward-oss/steward/notifications"
	"github.com/steward-oss/steward/workflows"
)

func runPartners(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New("partners: add, update, list, disable or enable")
	}
	sub, rest := args[0], args[1:]
	f := newFlags("partners "+sub, stderr)
	var dsn string
	f.str(&dsn, "database-url", "DATABASE_URL", "", "database URL (postgres://… or sqlite:PATH)")
	var p db.Partner
	var services string
	switch sub {
	case "add", "update":
		f.StringVar(&p.ID, "id", "", "partner id (letters, digits, '-', '_')")
		f.StringVar(&p.Name, "name", "", "company name")
		f.StringVar(&services, "services", "", "comma-separated skills: "+strings.Join(workflows.Services, ","))
		f.BoolVar(&p.Onsite, "onsite", false, "can work on site")
		f.IntVar(&p.Capacity, "capacity", 3, "open cases it can hold at once")
		f.StringVar(&p.SlackChannel, "slack-channel", "", "its Slack channel")
		f.StringVar(&p.DingTalkWebhook, "dingtalk-webhook", "", "its DingTalk group robot's webhook (https://oapi.dingtalk.com/robot/send?access_token=…; stored sealed with $"+db.SecretKeyEnv+"; '' removes the robot)")
		f.StringVar(&p.DingTalkSecret, "dingtalk-secret", "", "the robot's signing secret (SEC…), when its security setting is signing (stored sealed)")
	case "list":
	case "disable", "enable":
		f.StringVar(&p.ID, "id", "", "partner id (or give it as the argument)")
	default:
		return fmt.Errorf("partners: unknown subcommand %q (add, update, list, disable, enable)", sub)
	}
	var by string
	if sub == "disable" {
		f.StringVar(&by, "by", "operations", "who disables the partner, for the timeline of each case offered again")
	}
	pos, err := parseInterspersed(f, rest)
	if err != nil {
		return err
	}
	if (sub == "disable" || sub == "enable") && len(pos) == 1 && p.ID == "" {
		p.ID, pos = pos[0], nil
	}
	if len(pos) > 0 {
		return fmt.Errorf("partners %s: unexpected argument %q", sub, pos[0])
	}
	set := map[string]bool{}
	f.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	store, err := openStore(ctx, dsn)
	if err != nil {
		return err
	}
	defer store.Close()
	switch sub {
	case "disable":
		if p.ID == "" {
			return errors.New("partners disable: give the partner id")
		}
		return disablePartner(ctx, store, p.ID, by, stdout, stderr)
	case "add":
		if p.ID == "" || p.Name == "" {
			return errors.New("partners add: -id and -name are required")
		}
		if p.Services, err = parseServices(services); err != nil {
			return fmt.Errorf("partners add: %w", err)
		}
		if p.Capacity < 1 {
			return errors.New("partners add: -capacity must be at least 1")
		}
		if err := checkRobot(p.DingTalkWebhook, p.DingTalkSecret); err != nil {
			return fmt.Errorf("partners add: %w", err)
		}
		p.Active, p.CreatedAt = true, time.Now().UTC()
		if err := store.AddPartner(ctx, &p); err != nil {
			return fmt.Errorf("partners add: %w", err)
		}
		fmt.Fprintf(stdout, "partner %s added\n", p.ID)
	case "update":
		return updatePartner(ctx, store, &p, services, set, stdout)
	case "list":
		ps, err := store.ListPartners(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tSERVICES\tONSITE\tCAPACITY\tSLACK\tACTIVE\tDINGTALK")
		for _, p := range ps {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%t\t%d\t%s\t%t\t%s\n", p.ID, p.Name, strings.Join(p.Services, ","), p.Onsite, p.Capacity, p.SlackChannel, p.Active, robotState(&p))
		}
		return tw.Flush()
	case "enable":
		if p.ID == "" {
			return errors.New("partners enable: give the partner id")
		}
		if err := store.SetPartnerActive(ctx, p.ID, true); err != nil {
			return fmt.Errorf("partners enable: %w", err)
		}
		fmt.Fprintf(stdout, "partner %s enabled\n", p.ID)
	}
	return nil
}

// disablePartner disables partner id — its tokens are refused from the next request on, in every API
// process — and offers each of its open cases again (workflows.UpdateReoffer), naming by on their
// timelines. The cases are found in the database and told through Temporal (TEMPORAL_ADDRESS, …); when
// Temporal cannot be reached the partner stays disabled and the command fails saying so: run it again. A
// case already offered elsewhere is skipped, so running it again is safe.
func disablePartner(ctx context.Context, store *db.Store, id, by string, stdout, stderr io.Writer) error {
	if err := store.SetPartnerActive(ctx, id, false); err != nil {
		return fmt.Errorf("partners disable: %w", err)
	}
	fmt.Fprintf(stdout, "partner %s disabled: its tokens are refused from now on\n", id)
	cases, err := store.PartnerOpenCases(ctx, id)
	if err != nil {
		return fmt.Errorf("partners disable: %w", err)
	}
	if len(cases) == 0 {
		fmt.Fprintln(stdout, "no open case to offer again")
		return nil
	}
	logger := newLogger(stderr, "warn")
	t, err := loadTemporalTarget(logger, nil)
	if err != nil {
		return fmt.Errorf("partners disable: %d open cases not offered again: %w; run the command again", len(cases), err)
	}
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	c, err := t.dial(dctx)
	cancel()
	if err != nil {
		return fmt.Errorf("partners disable: %d open cases not offered again: %w; run the command again once Temporal answers", len(cases), err)
	}
	defer c.Close()
	return reofferCases(ctx, c, cases, id, by, stdout)
}

// reofferCases sends each case the partner's withdrawal and says what came of it; it fails when a case
// could not be told (the others are told all the same).
func reofferCases(ctx context.Context, c client.Client, cases []db.Case, partnerID, by string, stdout io.Writer) error {
	failed := 0
	for _, row := range cases {
		uctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := func() error {
			h, err := c.UpdateWorkflow(uctx, workflows.ReofferOptions(row.WorkflowID, partnerID, by, "partner company disabled", time.Now()))
			if err != nil {
				return err
			}
			return h.Get(uctx, nil)
		}()
		cancel()
		var ae *temporal.ApplicationError
		var nf *serviceerror.NotFound
		switch {
		case err == nil:
			fmt.Fprintf(stdout, "case %s offered again\n", row.CaseID)
		case errors.As(err, &ae) && ae.Type() == workflows.RejectConflict:
			fmt.Fprintf(stdout, "case %s skipped: %s\n", row.CaseID, ae.Message())
		case errors.As(err, &nf):
			fmt.Fprintf(stdout, "case %s skipped: its workflow is not running\n", row.CaseID)
		default:
			failed++
			fmt.Fprintf(stdout, "case %s not offered again: %v\n", row.CaseID, err)
		}
	}
	if failed > 0 {
		return fmt.Errorf("partners disable: %d of %d open cases not offered again; run the command again", failed, len(cases))
	}
	return nil
}

// updatePartner changes the columns whose flags were set; an empty -dingtalk-webhook removes the robot
// and its secret.
func updatePartner(ctx context.Context, store *db.Store, p *db.Partner, services string, set map[string]bool, stdout io.Writer) error {
	if p.ID == "" {
		return errors.New("partners update: -id is required")
	}
	cur, err := store.GetPartner(ctx, p.ID)
	if err != nil {
		return fmt.Errorf("partners update: %w", err)
	}
	var cols []string
	for flagName, col := range map[string]string{"name": "name", "onsite": "onsite", "capacity": "capacity", "slack-channel": "slack_channel"} {
		if set[flagName] {
			cols = append(cols, col)
		}
	}
	if set["name"] && p.Name == "" {
		return errors.New("partners update: -name cannot be empty")
	}
	if set["capacity"] && p.Capacity < 1 {
		return errors.New("partners update: -capacity must be at least 1")
	}
	if set["services"] {
		if p.Services, err = parseServices(services); err != nil {
			return fmt.Errorf("partners update: %w", err)
		}
		cols = append(cols, "services")
	}
	switch {
	case set["dingtalk-webhook"] && p.DingTalkWebhook == "":
		if set["dingtalk-secret"] && p.DingTalkSecret != "" {
			return errors.New("partners update: -dingtalk-secret without a -dingtalk-webhook")
		}
		p.DingTalkSecret = ""
		cols = append(cols, "dingtalk_webhook", "dingtalk_secret")
	case set["dingtalk-webhook"]:
		if err := checkRobot(p.DingTalkWebhook, p.DingTalkSecret); err != nil {
			return fmt.Errorf("partners update: %w", err)
		}
		// A new robot comes with its own secret, or none: an old secret would only fail its signatures.
		cols = append(cols, "dingtalk_webhook", "dingtalk_secret")
	case set["dingtalk-secret"]:
		if !cur.HasDingTalkRobot() {
			return errors.New("partners update: -dingtalk-secret for a partner without a robot (give -dingtalk-webhook too)")
		}
		cols = append(cols, "dingtalk_secret")
	}
	if len(cols) == 0 {
		return errors.New("partners update: nothing to change (give -name, -services, -onsite, -capacity, -slack-channel, -dingtalk-webhook or -dingtalk-secret)")
	}
	slices.Sort(cols)
	if err := store.UpdatePartner(ctx, p, cols...); err != nil {
		return fmt.Errorf("partners update: %w", err)
	}
	fmt.Fprintf(stdout, "partner %s updated: %s\n", p.ID, strings.Join(cols, ", "))
	return nil
}

// parseServices reads a comma-separated list of known services, at least one.
func parseServices(list string) ([]string, error) {
	var out []string
	for _, s := range strings.Split(list, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		if !workflows.KnownService(s) {
			return nil, fmt.Errorf("unknown service %q", s)
		}
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil, errors.New("-services names at least one service")
	}
	return out, nil
}

// checkRobot validates a robot given on the command line; its errors never repeat the webhook or secret.
func checkRobot(webhook, secret string) error {
	if webhook == "" {
		if secret != "" {
			return errors.New("-dingtalk-secret without a -dingtalk-webhook")
		}
		return nil
	}
	return notifications.Robot{Webhook: webhook, Secret: secret}.Validate()
}

// robotState says whether a partner has a DingTalk robot, never which.
func robotState(p *db.Partner) string {
	switch {
	case !p.HasDingTalkRobot():
		return "-"
	case p.DingTalkSecret != "":
		return "robot (signed)"
	default:
		return "robot"
	}
}

func runTokens(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New("tokens: issue, list, rotate or revoke")
	}
	sub, rest := args[0], args[1:]
	f := newFlags("tokens "+sub, stderr)
	var dsn, role, partner, name, id string
	ttl, grace := db.DefaultTokenTTL, db.DefaultRotationGrace
	f.str(&dsn, "database-url", "DATABASE_URL", "", "database URL (postgres://… or sqlite:PATH)")
	switch sub {
	case "issue":
		f.StringVar(&role, "role", "partner", "partner or manager")
		f.StringVar(&partner, "partner", "", "the engineer's partner id (role partner)")
		f.StringVar(&name, "name", "", "who holds it, e.g. an engineer's handle: each step's timeline line names it")
		f.Var(days{&ttl}, "ttl", "how long the token is valid: days (90d) or a duration (2160h)")
	case "rotate":
		f.StringVar(&id, "id", "", "token id (tok_…), or give it as the argument")
		f.Var(days{&ttl}, "ttl", "how long the successor is valid: days (90d) or a duration (2160h)")
		f.Var(days{&grace}, "grace", "how long the old token stays valid beside its successor: a duration (24h) or days; 0 ends it now")
	case "revoke":
		f.StringVar(&id, "id", "", "token id (tok_…), or give it as the argument")
	case "list":
	default:
		return fmt.Errorf("tokens: unknown subcommand %q (issue, list, rotate, revoke)", sub)
	}
	pos, err := parseInterspersed(f, rest)
	if err != nil {
		return err
	}
	if (sub == "rotate" || sub == "revoke") && len(pos) == 1 && id == "" {
		id, pos = pos[0], nil
	}
	if len(pos) > 0 {
		return fmt.Errorf("tokens %s: unexpected argument %q", sub, pos[0])
	}
	if ttl <= 0 {
		return fmt.Errorf("tokens %s: -ttl must be more than zero: every token expires", sub)
	}
	if grace < 0 {
		return fmt.Errorf("tokens %s: -grace cannot be negative", sub)
	}
	store, err := openStore(ctx, dsn)
	if err != nil {
		return err
	}
	defer store.Close()
	now := time.Now().UTC()
	switch sub {
	case "issue":
		if !slices.Contains([]string{string(db.RolePartner), string(db.RoleManager)}, role) {
			return fmt.Errorf("tokens issue: -role is partner or manager, not %q", role)
		}
		if role == string(db.RolePartner) && partner == "" {
			return errors.New("tokens issue: -partner is required for a partner token")
		}
		if role == string(db.RoleManager) && partner != "" {
			return errors.New("tokens issue: a manager token has no -partner")
		}
		if name == "" {
			return errors.New("tokens issue: -name is required")
		}
		secret, tok, err := store.IssueTokenTTL(ctx, db.Role(role), partner, name, ttl)
		if err != nil {
			return fmt.Errorf("tokens issue: %w", err)
		}
		fmt.Fprintf(stdout, "token %s issued for %s, valid until %s. It is shown once; store it now:\n%s\n", tok.ID, name, stamp(tok.ExpiresAt), secret)
	case "rotate":
		if id == "" {
			return errors.New("tokens rotate: give the token id")
		}
		secret, tok, err := store.RotateToken(ctx, id, grace, ttl, now)
		if err != nil {
			return fmt.Errorf("tokens rotate: %w", err)
		}
		until := "-"
		if old, err := store.GetToken(ctx, id); err == nil {
			until = stamp(old.ExpiresAt)
		}
		fmt.Fprintf(stdout, "token %s rotated: its successor %s is valid until %s; %s stays valid until %s.\n"+
			"The successor's secret is shown once; store it now:\n%s\n", id, tok.ID, stamp(tok.ExpiresAt), id, until, secret)
	case "revoke":
		if id == "" {
			return errors.New("tokens revoke: give the token id")
		}
		if err := store.RevokeToken(ctx, id); err != nil {
			return fmt.Errorf("tokens revoke: %w", err)
		}
		fmt.Fprintf(stdout, "token %s revoked: refused from the next request on\n", id)
	case "list":
		ts, err := store.ListTokens(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tROLE\tPARTNER\tNAME\tSTATE\tCREATED\tEXPIRES\tLAST USED\tFROM\tREPLACED BY")
		for _, t := range ts {
			state := t.State(now)
			if state == db.TokenRevoked {
				state += " " + stamp(t.RevokedAt)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Role, orDash(t.PartnerID), t.Name, state, stamp(&t.CreatedAt),
				orNever(t.ExpiresAt), stamp(t.LastUsedAt), orDash(t.LastUsedFrom), orDash(t.ReplacedBy))
		}
		return tw.Flush()
	}
	return nil
}

// stamp writes an instant for the token commands, "-" for none.
func stamp(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func orNever(t *time.Time) string {
	if t == nil {
		return "never"
	}
	return stamp(t)
}

// days is a duration flag that also takes whole days ("90d").
type days struct{ d *time.Duration }

func (f days) String() string {
	if f.d == nil {
		return ""
	}
	if *f.d != 0 && *f.d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", *f.d/(24*time.Hour))
	}
	return f.d.String()
}

func (f days) Set(s string) error {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		v, err := strconv.Atoi(n)
		if err != nil {
			return fmt.Errorf("%q: want days (90d) or a duration (24h)", s)
		}
		*f.d = time.Duration(v) * 24 * time.Hour
		return nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%q: want days (90d) or a duration (24h)", s)
	}
	*f.d = d
	return nil
}
