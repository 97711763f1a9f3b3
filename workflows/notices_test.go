package workflows_test

import (
	"strings"
	"testing"
	"unicode"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steward-oss/steward/activities"
	"github.com/steward-oss/steward/workflows"
)

// noticeArgs are arguments each notice's lifecycle gives it (see where workflows.Tell is called).
var noticeArgs = map[workflows.Notice][]string{
	workflows.NoticePartnerAssigned:      {"partner", "安恒应急中心"},
	workflows.NoticeContacted:            {"met", "yes", "due", "2026-12-01 10:20 CST"},
	workflows.NoticeAssetsReminder:       {"day", "3", "due", "2026-12-06 09:00 CST"},
	workflows.NoticeAssetsWindowClosed:   {"due", "2026-12-06 09:00 CST"},
	workflows.NoticeIncidentConfirmed:    {"class", "有害程序事件", "type", "webshell"},
	workflows.NoticeOutOfScope:           nil,
	workflows.NoticeReportReady:          {"report", activities.ReportTitle, "version", "2"},
	workflows.NoticeReportReminder:       {"report", activities.ReportTitle, "version", "1", "days", "3", "due", "2026-12-08 16:42 CST"},
	workflows.NoticeReportDeemedAccepted: {"report", activities.ReportTitle, "version", "1", "due", "2026-12-08 16:42 CST"},
	workflows.NoticeRefundOwed:           {"amount", "¥4,000.00", "clause", "响应时效"},
	workflows.NoticeCaseClosed:           {"follow_up", "一周后回访", "until", "2026-12-15"},
	workflows.NoticeOnboarding:           {"edition", "企业版"},
	workflows.NoticeMonthlyReport:        {"number", "3", "period", "2026-11"},
	workflows.NoticeTermReminder:         {"days", "30", "end", "2027-11-30"},
	workflows.NoticeTermReport:           {"period", "2026-12-01 至 2027-12-01"},
	workflows.NoticeAssessmentRecorded:   {"attempt", "1", "passed", "no"},
}

// TestCustomerNoticesRender: every customer notice has a template that renders, in Chinese, with its
// arguments and the order number, and refuses to render when an argument it needs is missing.
func TestCustomerNoticesRender(t *testing.T) {
	require.Len(t, noticeArgs, len(workflows.Notices), "every notice has its arguments here")
	for _, n := range workflows.Notices {
		t.Run(string(n), func(t *testing.T) {
			args, ok := noticeArgs[n]
			require.True(t, ok, "no sample arguments for %s", n)
			note := workflows.Tell(activities.Event{}, n, args...).Customer
			title, text, err := activities.RenderCustomer(note.Kind, activities.CustomerData{OrderID: "O-7731", Service: workflows.ServiceSOS, Spec: "handling", Args: note.Args})
			require.NoError(t, err)
			assert.NotEmpty(t, title)
			assert.True(t, strings.HasPrefix(text, "### "+title+"\n"), "the text starts with its title as a heading")
			assert.True(t, strings.ContainsFunc(title, func(r rune) bool { return unicode.Is(unicode.Han, r) }), "title in Chinese: %q", title)
			assert.Contains(t, text, "订单号 O-7731")
			assert.Contains(t, text, "应急响应 SOS（事件处理）")
			assert.NotContains(t, text, "<no value>")
			for i := 1; i < len(args); i += 2 {
				if args[i-1] == "met" || args[i-1] == "passed" {
					continue // a switch, not a shown value
				}
				assert.Contains(t, text, args[i], "argument %s is shown", args[i-1])
			}
			if len(args) > 0 {
				_, _, err := activities.RenderCustomer(note.Kind, activities.CustomerData{OrderID: "O-7731", Service: workflows.ServiceSOS, Args: map[string]string{}})
				assert.Error(t, err, "a missing argument is an error, not a blank")
			}
		})
	}
	_, _, err := activities.RenderCustomer("no_such_notice", activities.CustomerData{})
	assert.ErrorContains(t, err, "no template")
}

// TestCustomerNoticeSwitches: the contacted and assessment notices say what happened, either way.
func TestCustomerNoticeSwitches(t *testing.T) {
	render := func(n workflows.Notice, args ...string) string {
		note := workflows.Tell(activities.Event{}, n, args...).Customer
		_, text, err := activities.RenderCustomer(note.Kind, activities.CustomerData{OrderID: "O1", Service: workflows.ServiceSOS, Args: note.Args})
		require.NoError(t, err)
		return text
	}
	assert.Contains(t, render(workflows.NoticeContacted, "met", "yes", "due", "D"), "在约定的响应时限")
	assert.Contains(t, render(workflows.NoticeContacted, "met", "no", "due", "D"), "晚于约定的响应时限")
	assert.Contains(t, render(workflows.NoticeAssessmentRecorded, "attempt", "2", "passed", "yes"), "**通过**")
	assert.Contains(t, render(workflows.NoticeAssessmentRecorded, "attempt", "2", "passed", "no"), "**未通过**")
	assert.NotContains(t, render(workflows.NoticeCaseClosed, "follow_up", "回访", "until", ""), "跟进至")
}
