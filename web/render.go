package web

import (
	"bytes"
	"fmt"
	"html/template"
	"maps"
	"net/http"
	"net/url"
	"time"

	"github.com/intake-office/intake/intake/policy"
	"github.com/intake-office/intake/ticket"
)

// Languages of the interface: German (default) and English.
const (
	langDE     = "de"
	langEN     = "en"
	langCookie = "intake_lang"
)

// view is what every page template gets.
type view struct {
	Lang      string
	OtherLang string
	LangURL   string // the current page in the other language
	Title     string
	User      *ticket.User
	Proxy     bool   // logged in through the proxy header: no logout button
	Office    string // office name
	Done      string // key of a completed action ("done.<key>"), from ?done=
	Data      any
}

func (s *server) parseTemplates() (map[string]*template.Template, error) {
	funcs := template.FuncMap{
		"t":  s.msgs.text,
		"tf": s.msgs.format,
		"tm": func(lang string, t time.Time) string {
			if t.IsZero() {
				return "–"
			}
			t = t.In(s.loc)
			if lang == langEN {
				return t.Format("2006-01-02 15:04")
			}
			return t.Format("02.01.2006, 15:04") + " Uhr"
		},
		"size": humanSize,
		"dict": func(kv ...any) map[string]any {
			m := map[string]any{}
			for i := 0; i+1 < len(kv); i += 2 {
				m[kv[i].(string)] = kv[i+1]
			}
			return m
		},
		"explain": func(lang, reason string) string {
			de, en := policy.Explain(policy.Reason(reason))
			if lang == langEN {
				return en
			}
			return de
		},
	}
	base, err := template.New("layout").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/admin_tokens.html")
	if err != nil {
		return nil, fmt.Errorf("web: parse layout: %w", err)
	}
	pages := map[string]*template.Template{}
	for _, name := range []string{"login", "search", "case", "audit", "error", "admin_users", "admin_user", "admin_secret"} {
		t, err := template.Must(base.Clone()).ParseFS(templateFS, "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("web: parse template %s: %w", name, err)
		}
		pages[name] = t
	}
	return pages, nil
}

// lang returns the language of r: ?lang=de|en (remembered in a cookie), else the cookie,
// else German.
func (s *server) lang(w http.ResponseWriter, r *http.Request) string {
	if q := r.URL.Query().Get("lang"); q == langDE || q == langEN {
		http.SetCookie(w, &http.Cookie{Name: langCookie, Value: q, Path: "/", MaxAge: 365 * 24 * 3600,
			HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode})
		return q
	}
	if c, err := r.Cookie(langCookie); err == nil && (c.Value == langDE || c.Value == langEN) {
		return c.Value
	}
	return langDE
}

// render writes page name with data; titleKey is a message key.
func (s *server) render(w http.ResponseWriter, r *http.Request, u *ticket.User, status int, name, titleKey string, data any) {
	lang := s.lang(w, r)
	other := langEN
	if lang == langEN {
		other = langDE
	}
	q := url.Values{}
	if r.Method == http.MethodGet {
		q = r.URL.Query()
	}
	q.Del("done")
	q.Set("lang", other)
	path := r.URL.Path
	if r.Method != http.MethodGet {
		path = "/"
	}
	v := view{
		Lang: lang, OtherLang: other, LangURL: path + "?" + q.Encode(),
		Title: s.msgs.text(lang, titleKey), User: u, Office: s.config().Office.Name, Data: data,
	}
	v.Proxy = s.proxy != "" && r.Header.Get(s.proxy) != ""
	if d := r.URL.Query().Get("done"); r.Method == http.MethodGet && s.msgs.has("done."+d) {
		v.Done = d
	}
	var buf bytes.Buffer
	if err := s.pages[name].ExecuteTemplate(&buf, "layout", v); err != nil {
		s.log.Error("render page", "page", name, "err", err)
		http.Error(w, "internal error / interner Fehler", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

type errorData struct {
	Status int
	Key    string
}

func (s *server) errorPage(w http.ResponseWriter, r *http.Request, u *ticket.User, status int, key string) {
	s.render(w, r, u, status, "error", "error.title", errorData{Status: status, Key: key})
}

func (s *server) notFound(w http.ResponseWriter, r *http.Request, u *ticket.User) {
	s.errorPage(w, r, u, http.StatusNotFound, "err.notfound")
}

// humanSize formats a byte count with SI units.
func humanSize(n int64) string {
	switch {
	case n < 1000:
		return fmt.Sprintf("%d B", n)
	case n < 1000*1000:
		return fmt.Sprintf("%.1f kB", float64(n)/1000)
	case n < 1000*1000*1000:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	}
	return fmt.Sprintf("%.1f GB", float64(n)/1e9)
}

// catalog holds the interface texts, German and English, by key.
type catalog map[string][2]string

func (c catalog) has(key string) bool { _, ok := c[key]; return ok }

// text returns the text of key in lang; an unknown key is returned as it is (the tests
// check that every key the templates use exists).
func (c catalog) text(lang, key string) string {
	m, ok := c[key]
	if !ok {
		return key
	}
	if lang == langEN {
		return m[1]
	}
	return m[0]
}

func (c catalog) format(lang, key string, args ...any) string {
	return fmt.Sprintf(c.text(lang, key), args...)
}

// newCatalog returns the texts of the interface: German first, English second.
func newCatalog() catalog {
	c := catalog{
		"skip":          {"Zum Inhalt springen", "Skip to content"},
		"nav.label":     {"Hauptnavigation", "Main navigation"},
		"nav.search":    {"Arbeitsliste", "Worklist"},
		"nav.audit":     {"Protokoll", "Audit log"},
		"nav.otherlang": {"English", "Deutsch"},
		"nav.user":      {"Angemeldet", "Logged in"},
		"nav.logout":    {"Abmelden", "Log out"},
		"role.clerk":    {"Sachbearbeitung", "clerk"},
		"role.admin":    {"Administration", "admin"},
		"footer": {"intake – Posteingang und Vorgangsregister. Interne Anwendung, Inhalte vertraulich.",
			"intake – mail intake and case register. Internal application, contents confidential."},
		"nosubject": {"(ohne Betreff)", "(no subject)"},

		"login.title":    {"Anmelden", "Log in"},
		"login.name":     {"Benutzername", "User name"},
		"login.password": {"Passwort", "Password"},
		"login.submit":   {"Anmelden", "Log in"},
		"login.hint": {"Die Sitzung endet nach längerer Inaktivität. Nach einem Neustart des Dienstes ist eine neue Anmeldung nötig.",
			"The session ends after a period of inactivity. After a restart of the service you need to log in again."},

		"err.login":       {"Benutzername oder Passwort ist falsch.", "Wrong user name or password."},
		"err.ratelimit":   {"Zu viele fehlgeschlagene Anmeldungen. Bitte in %d Sekunden erneut versuchen.", "Too many failed logins. Please try again in %d seconds."},
		"err.badrequest":  {"Die Anfrage ist ungültig.", "The request is invalid."},
		"err.internal":    {"Interner Fehler. Bitte später erneut versuchen.", "Internal error. Please try again later."},
		"err.notfound":    {"Nicht gefunden.", "Not found."},
		"err.forbidden":   {"Dafür fehlt die Berechtigung.", "You are not allowed to do this."},
		"err.crossorigin": {"Anfrage von einer anderen Website abgelehnt.", "Request from another website refused."},
		"err.proxyuser":   {"Für die angemeldete Person gibt es kein aktives Benutzerkonto in intake.", "There is no active intake account for the logged-in person."},
		"err.transition":  {"Dieser Statuswechsel ist nicht möglich (der Vorgang wurde inzwischen geändert?).", "This status change is not possible (was the case changed meanwhile?)."},
		"err.note":        {"Die Notiz ist leer oder zu lang (höchstens 8000 Zeichen).", "The note is empty or too long (at most 8000 characters)."},
		"err.assignee":    {"Diese Person kann dem Vorgang nicht zugewiesen werden.", "This person cannot be assigned to the case."},
		"err.date":        {"Bitte ein Datum im Format JJJJ-MM-TT angeben.", "Please give a date as YYYY-MM-DD."},
		"err.search":      {"Die Suche ist fehlgeschlagen. Bitte die Eingabe prüfen oder später erneut versuchen.", "The search failed. Please check the input or try again later."},
		"err.reference":   {"Keine gültige Vorgangsnummer.", "Not a valid reference."},
		"error.title":     {"Fehler", "Error"},
		"error.back":      {"Zur Arbeitsliste", "Back to the worklist"},

		"done.logout": {"Sie wurden abgemeldet.", "You have been logged out."},
		"done.status": {"Der Status wurde geändert.", "The status has been changed."},
		"done.note":   {"Die Notiz wurde gespeichert.", "The note has been saved."},
		"done.assign": {"Die Zuständigkeit wurde geändert.", "The assignment has been changed."},

		"search.title":           {"Vorgänge suchen", "Find cases"},
		"search.q":               {"Vorgangsnummer, Absender oder Suchbegriffe", "Reference, sender or search terms"},
		"search.q.hint":          {"z. B. STK-2026-000042-6, „stk 2026 42 6“, mueller@example.org, Bauantrag", "e.g. STK-2026-000042-6, \"stk 2026 42 6\", mueller@example.org, building permit"},
		"search.submit":          {"Suchen", "Search"},
		"search.filters":         {"Filter", "Filters"},
		"search.sender":          {"Absender (Adresse oder Name)", "Sender (address or name)"},
		"search.since":           {"Eingang ab", "Received from"},
		"search.until":           {"Eingang bis", "Received until"},
		"search.status":          {"Status", "Status"},
		"search.mailbox":         {"Postfach", "Mailbox"},
		"search.kind":            {"Art", "Kind"},
		"search.sort":            {"Sortierung", "Order"},
		"search.sort.newest":     {"Neueste zuerst", "Newest first"},
		"search.sort.relevance":  {"Relevanz", "Relevance"},
		"search.any":             {"alle", "any"},
		"search.allmailboxes":    {"alle sichtbaren", "all visible"},
		"search.results":         {"Ergebnisse", "Results"},
		"search.count.cases":     {"Gefundene Vorgänge: %d", "Cases found: %d"},
		"search.count.messages":  {"Gefundene Nachrichten: %d", "Messages found: %d"},
		"search.count.atleast":   {"Gefundene Vorgänge: mehr als %d", "Cases found: more than %d"},
		"search.count.truncated": {"Mindestens %d Vorgänge gefunden (nur die neuesten wurden durchsucht).", "At least %d cases found (only the newest were searched)."},
		"search.nofulltext": {"Volltextsuche nicht verfügbar: Suchbegriffe werden nur in Betreff, Absender und Anhangnamen der neuesten Vorgänge gesucht.",
			"Full-text search is not available: search terms are matched in subject, sender and attachment names of the newest cases only."},
		"search.notfound":     {"Kein Vorgang mit der Vorgangsnummer %s gefunden.", "No case with the reference %s."},
		"search.indexlag":     {"Suchindex %d Nachrichten hinter dem Register: die neuesten Eingänge fehlen in der Volltextsuche noch, die Suche nach Vorgangsnummer findet sie.", "Search index %d messages behind the register: the newest mail is not in the full-text search yet; searching by reference finds it."},
		"search.checkdigit":   {"Die Prüfziffer von „%s“ stimmt nicht.", "The check digit of \"%s\" is wrong."},
		"search.didyoumean":   {"Meinten Sie …?", "Did you mean …?"},
		"search.nocandidates": {"Kein vorhandener Vorgang unterscheidet sich nur in einer Ziffer. Bitte die Vorgangsnummer prüfen.", "No existing case differs in one digit only. Please check the reference."},

		"work.title":          {"Arbeitsliste", "Worklist"},
		"work.tabs":           {"Ansichten der Arbeitsliste", "Worklist views"},
		"work.tab.new":        {"Neu, nicht zugewiesen", "New, unassigned"},
		"work.tab.mine":       {"Mir zugewiesen", "Assigned to me"},
		"work.tab.progress":   {"In Bearbeitung", "In progress"},
		"work.tab.overdue":    {"Frist überschritten", "Overdue"},
		"work.tab.auto":       {"Automatisch eingegangen", "Automated mail"},
		"work.tab.all":        {"Alle", "All"},
		"work.count":          {"%d Vorgänge", "%d cases"},
		"work.empty":          {"Keine Vorgänge in dieser Ansicht.", "No cases in this view."},
		"work.select":         {"Auswahl", "Selection"},
		"work.selectcase":     {"Vorgang %s auswählen", "Select case %s"},
		"work.sort.newest":    {"Neueste zuerst – umkehren", "Newest first – reverse"},
		"work.sort.oldest":    {"Älteste zuerst – umkehren", "Oldest first – reverse"},
		"work.bulk":           {"Ausgewählte Vorgänge bearbeiten", "Change the selected cases"},
		"work.bulk.assignee":  {"Zuweisen an", "Assign to"},
		"work.bulk.assign":    {"Zuweisen", "Assign"},
		"work.bulk.status":    {"Status setzen auf", "Set status to"},
		"work.bulk.setstatus": {"Status setzen", "Set status"},
		"work.bulk.hint":      {"Erst Vorgänge in der Tabelle auswählen, dann hier die Aktion wählen.", "Select cases in the table first, then choose the action here."},
		"work.nosend":         {"nicht gesendet", "not sent"},
		"work.noattachments":  {"keine", "none"},
		"col.select":          {"Auswahl", "Select"},
		"col.assignee":        {"Zuständig", "Assigned to"},
		"col.ack":             {"Bestätigung", "Acknowledgement"},
		"col.attachments":     {"Anhänge", "Attachments"},
		"err.bulk":            {"Nicht alle ausgewählten Vorgänge konnten geändert werden (keine Auswahl, keine Berechtigung oder Statuswechsel nicht möglich). Die übrigen wurden geändert.", "Not every selected case could be changed (nothing selected, no permission or status change not possible). The others were changed."},
		"err.bulkassignee":    {"Diese Person kann nicht zugewiesen werden.", "This person cannot be assigned."},
		"done.bulk":           {"Die ausgewählten Vorgänge wurden geändert.", "The selected cases have been changed."},

		"paging":      {"Seiten", "Pages"},
		"paging.prev": {"Vorherige Seite", "Previous page"},
		"paging.next": {"Nächste Seite", "Next page"},
		"paging.page": {"Seite %d", "Page %d"},

		"col.reference": {"Vorgangsnummer", "Reference"},
		"col.received":  {"Eingang", "Received"},
		"col.from":      {"Von", "From"},
		"col.to":        {"An", "To"},
		"col.subject":   {"Betreff", "Subject"},
		"col.status":    {"Status", "Status"},
		"col.mailbox":   {"Postfach", "Mailbox"},
		"col.kind":      {"Art", "Kind"},
		"col.created":   {"Eröffnet", "Opened"},
		"col.sender":    {"Absenderadresse", "Sender address"},
		// The From header is anyone's word: the case page marks whether a trusted
		// SPF/DKIM/DMARC result proved the sender (ticket.Message.VerifiedSender).
		"sender.verified":     {"geprüft (%s)", "verified (%s)"},
		"sender.verified.how": {"geprüft", "verified"},
		"sender.unverified":   {"nicht geprüft", "not verified"},
		"col.date":            {"Datum (laut Absender)", "Date (as sent)"},
		"col.size":            {"Größe", "Size"},

		"status.new":         {"neu", "new"},
		"status.in_progress": {"in Bearbeitung", "in progress"},
		"status.closed":      {"abgeschlossen", "closed"},
		"kind.citizen":       {"Bürgeranliegen", "citizen"},
		"kind.automated":     {"automatisch", "automated"},
		"kind.malformed":     {"fehlerhaft", "malformed"},
		"ack.pending":        {"ausstehend", "pending"},
		"ack.sent":           {"gesendet", "sent"},
		"ack.suppressed":     {"unterdrückt", "suppressed"},
		"ack.failed":         {"fehlgeschlagen", "failed"},
		"ack.bounced":        {"unzustellbar", "bounced"},

		"case.title":                  {"Vorgang", "Case"},
		"case.since":                  {"seit %s", "since %s"},
		"case.assignee":               {"Zuständig", "Assigned to"},
		"case.nobody":                 {"niemand", "nobody"},
		"case.work":                   {"Bearbeitung", "Work on the case"},
		"case.start":                  {"In Bearbeitung nehmen", "Start work"},
		"case.close":                  {"Abschließen", "Close"},
		"case.reopen":                 {"Wieder öffnen", "Reopen"},
		"case.assignto":               {"Zuweisen an", "Assign to"},
		"case.assign":                 {"Zuweisen", "Assign"},
		"case.note":                   {"Interne Notiz", "Internal note"},
		"case.note.hint":              {"Nur intern sichtbar, wird nicht versendet.", "Internal only, never sent."},
		"case.addnote":                {"Notiz speichern", "Save note"},
		"case.notes":                  {"Notizen", "Notes"},
		"case.links":                  {"Verknüpfte Vorgänge", "Linked cases"},
		"case.messages":               {"Nachrichten (%d)", "Messages (%d)"},
		"case.message":                {"Nachricht %d von %d", "Message %d of %d"},
		"case.malformed":              {"Fehlerhaft", "Malformed"},
		"case.oversize":               {"Zu groß", "Too large"},
		"case.oversize.text":          {"Die Nachricht war zu groß; ihr Inhalt wurde nicht gespeichert.", "The message was too large; its content was not stored."},
		"case.msgidreused":            {"Message-ID von einer anderen Nachricht wiederverwendet", "Message-ID reused by a different mail"},
		"case.view":                   {"Anzeige", "View"},
		"case.view.text":              {"Text", "Text"},
		"case.view.html":              {"HTML (bereinigt, ohne Bilder)", "HTML (sanitised, no images)"},
		"case.body":                   {"Nachrichtentext", "Message text"},
		"case.notext":                 {"Kein Text.", "No text."},
		"case.noraw":                  {"Der Inhalt der Nachricht ist nicht gespeichert.", "The content of the message is not stored."},
		"case.unreadable":             {"Die Nachricht konnte nicht gelesen werden.", "The message could not be read."},
		"case.attachments":            {"Anhänge", "Attachments"},
		"case.raw":                    {"Originalnachricht (.eml) herunterladen", "Download original message (.eml)"},
		"case.ack":                    {"Eingangsbestätigung", "Acknowledgement"},
		"case.ack.reason":             {"Grund", "Reason"},
		"case.ack.recipient":          {"Empfänger", "Recipient"},
		"case.ack.sent":               {"Gesendet", "Sent"},
		"case.ack.next":               {"Nächster Versuch", "Next attempt"},
		"case.ack.attempts":           {"Versuche", "Attempts"},
		"case.ack.reply":              {"SMTP-Antwort", "SMTP reply"},
		"case.ack.bounce":             {"Unzustellbarkeit", "Bounce"},
		"case.ack.msgid":              {"Message-ID der Bestätigung", "Message-ID of the acknowledgement"},
		"case.ack.echo":               {"Art der Bestätigung", "Kind of acknowledgement"},
		"echo.full":                   {"vollständig (mit Betreff und Anhängen des Absenders)", "full (with the sender's subject and attachments)"},
		"echo.minimal":                {"kurz (ohne Text des Absenders)", "short (no text of the sender)"},
		"audit.title":                 {"Protokoll", "Audit log"},
		"audit.actor":                 {"Wer", "Who"},
		"audit.case":                  {"Vorgang", "Case"},
		"audit.action":                {"Aktion", "Action"},
		"audit.at":                    {"Zeit", "Time"},
		"audit.detail":                {"Details", "Details"},
		"audit.remote":                {"Adresse", "Address"},
		"audit.filter":                {"Filtern", "Filter"},
		"audit.none":                  {"Keine Einträge.", "No entries."},
		"audit.a.login":               {"Anmeldung", "login"},
		"audit.a.login_failed":        {"Anmeldung fehlgeschlagen", "failed login"},
		"audit.a.logout":              {"Abmeldung", "logout"},
		"audit.a.search":              {"Suche", "search"},
		"audit.a.view":                {"Ansicht", "view"},
		"audit.a.download_raw":        {"Download Originalnachricht", "download of original message"},
		"audit.a.download_attachment": {"Download Anhang", "download of attachment"},
		"audit.a.status":              {"Statuswechsel", "status change"},
		"audit.a.note":                {"Notiz", "note"},
		"audit.a.assign":              {"Zuweisung", "assignment"},
		"audit.a.user_add":            {"Benutzer angelegt", "user added"},
		"audit.a.user_password":       {"Passwort gesetzt", "password set"},
		"audit.a.user_grant":          {"Rechte geändert", "grants changed"},
		"audit.a.user_disable":        {"Benutzer gesperrt", "user disabled"},
		"audit.a.user_enable":         {"Benutzer entsperrt", "user enabled"},
		"audit.a.token_create":        {"API-Token erstellt", "API token created"},
		"audit.a.token_revoke":        {"API-Token widerrufen", "API token revoked"},
		"audit.a.interim_suppress":    {"Zwischennachricht unterdrückt", "interim notice suppressed"},
		"audit.a.interim_send_now":    {"Zwischennachricht sofort gesendet", "interim notice sent now"},
		"audit.a.export":              {"Vorgang exportiert", "case exported"},
		"audit.a.purge":               {"Vorgang gelöscht (Aufbewahrungsfrist)", "case purged (retention)"},
		"audit.a.backup":              {"Sicherung erstellt", "backup taken"},
		"audit.a.restore":             {"Register wiederhergestellt", "register restored"},
		"audit.a.audit_export":        {"Protokoll exportiert", "audit log exported"},
	}
	maps.Copy(c, adminMessages()) // admin.go
	return c
}
