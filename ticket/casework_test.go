package ticket

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestCasework(t *testing.T) {
	s := newTestStore(t)
	mustRegister(t, s, incoming(1, "a@x", t0))
	mustRegister(t, s, incoming(2, "b@x", t0))
	for _, u := range []User{{Name: "erika", Role: RoleClerk, Mailboxes: []string{"post"}}, {Name: "gone", Role: RoleClerk}} {
		if err := s.AddUser(u, "", t0); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SetDisabled("gone", true); err != nil {
		t.Fatal(err)
	}
	a := Actor{Name: "max", Remote: "192.0.2.7", At: t0.Add(time.Hour)}

	w, err := s.CaseworkOf(ref(1))
	if err != nil || w.Assignee != "" || len(w.Notes) != 0 {
		t.Fatalf("fresh casework = %+v, %v", w, err)
	}
	notes := []struct {
		name, text, want string
		err              error
	}{
		{"plain", "Rückruf vereinbart", "Rückruf vereinbart", nil},
		{"cleaned", "  Zeile 1\r\nZeile 2\x00\x1b\t.  ", "Zeile 1\nZeile 2\t.", nil},
		{"html kept as text", "<script>x</script>", "<script>x</script>", nil},
		{"empty", " \n\t ", "", ErrEmptyNote},
	}
	for _, tt := range notes {
		t.Run("note "+tt.name, func(t *testing.T) {
			n, err := s.AddNote(ref(1), tt.text, a)
			if !errors.Is(err, tt.err) || n.Text != tt.want {
				t.Errorf("AddNote = %+v, %v", n, err)
			}
		})
	}
	if _, err := s.AddNote(ref(1), strings.Repeat("x", MaxNoteLen+1), a); err == nil {
		t.Error("over-long note accepted")
	}
	if _, err := s.AddNote(ref(9), "x", a); !errors.Is(err, ErrNotFound) {
		t.Errorf("note on unknown case: %v", err)
	}
	if _, err := s.AddNote(ref(2), "other case", a); err != nil {
		t.Fatal(err)
	}

	assign := []struct {
		name, user string
		err        error
	}{
		{"erika", "Erika", nil},
		{"unknown", "nobody", ErrNotFound},
		{"disabled", "gone", ErrDisabled},
		{"nobody", "", nil},
		{"erika again", "erika", nil},
	}
	for _, tt := range assign {
		t.Run("assign "+tt.name, func(t *testing.T) {
			if err := s.Assign(ref(1), tt.user, a); !errors.Is(err, tt.err) {
				t.Errorf("Assign = %v, want %v", err, tt.err)
			}
		})
	}
	w, err = s.CaseworkOf(ref(1))
	if err != nil {
		t.Fatal(err)
	}
	if w.Assignee != "erika" || w.AssignedBy != "max" || !w.AssignedAt.Equal(a.At) || len(w.Notes) != 3 ||
		w.Notes[0].Text != "Rückruf vereinbart" || w.Notes[0].Author != "max" || w.Notes[2].Text != "<script>x</script>" {
		t.Errorf("casework = %+v", w)
	}
	if w2, _ := s.CaseworkOf(ref(2)); len(w2.Notes) != 1 || w2.Assignee != "" {
		t.Errorf("case 2 casework = %+v", w2)
	}
	if _, err := s.CaseworkOf(ref(9)); !errors.Is(err, ErrNotFound) {
		t.Errorf("CaseworkOf unknown = %v", err)
	}

	// Every successful change has its audit entry, written in the same transaction.
	entries, _, err := s.AuditLog(AuditFilter{Case: ref(1)})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Action+" "+e.Detail)
		if e.Actor != "max" || e.Remote != "192.0.2.7" {
			t.Errorf("entry %+v", e)
		}
	}
	want := []string{`assign "" -> "erika"`, `assign "erika" -> ""`, `assign "" -> "erika"`,
		"note note 3 (18 characters)", "note note 2 (17 characters)", "note note 1 (18 characters)"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("audit of case 1:\n got %q\nwant %q", got, want)
	}
}
