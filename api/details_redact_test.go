package api

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steward-oss/steward/workflows"
)

// TestPartnerSeesOnlyItsOwnEngineers: in a case taken over from another company, the days the other
// company's engineers checked in keep their check-in but lose the name, for the new partner only; managers
// see every name.
func TestPartnerSeesOnlyItsOwnEngineers(t *testing.T) {
	view := func() workflows.CaseView {
		var details any
		require.NoError(t, json.Unmarshal([]byte(`{"days":[
			{"day":"2026-12-01","engineer":"Wang Lei","partner_id":"p-old","checked_in_at":"2026-12-01T01:00:00Z"},
			{"day":"2026-12-02","engineer":"Chen Jing","partner_id":"p-new","checked_in_at":"2026-12-02T01:00:00Z"}]}`), &details))
		return workflows.CaseView{Details: details}
	}
	b, err := json.Marshal(redactFor(Principal{Role: RolePartner, PartnerID: "p-new"}, view()).Details)
	require.NoError(t, err)
	assert.NotContains(t, string(b), "Wang Lei", "the previous company's engineer")
	assert.Contains(t, string(b), "Chen Jing", "its own")
	assert.Contains(t, string(b), `"checked_in_at":"2026-12-01T01:00:00Z"`, "the day keeps its check-in")
	b, err = json.Marshal(redactFor(Principal{Role: RoleManager}, view()).Details)
	require.NoError(t, err)
	assert.Contains(t, string(b), "Wang Lei", "managers see every name")
}
