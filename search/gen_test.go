package search

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/intake-office/intake/ticket"
)

// corpus generates realistic German mails to an office, deterministically: doc(i) depends
// only on the seed, the number of documents n and i, so a benchmark can rebuild any
// document (and pick phrases that occur) without keeping the corpus in memory.
//
// The vocabulary has 3,782 content words: ~3,300 compounds of administrative roots and
// heads ("Bauantrag", "Parkgebühr"), base nouns with their plurals, verbs and adjectives,
// drawn with a Zipf distribution (s = 1.1, v = 2), mixed with German function words (42 %
// of the words) as in real text, plus the long tail real mail has: names, streets, dates,
// amounts, phone numbers. Bodies average 1.9 KB, subjects 38 bytes; 0.6 attachment names per
// mail; 17 % follow-ups ("AW: Eingangsbestätigung – Az. ..."), 12 % automated, 3 %
// malformed (no body). The head of the distribution is steeper than in real mail, which
// makes frequent-word queries pessimistic: the most frequent word is in 96 % of the
// bodies, the 20th in 44 %, the 100th in 10 %, the 1000th in 0.9 %.
type corpus struct {
	seed  uint64
	n     int
	start time.Time
	step  time.Duration
	words []string // content words, most frequent first (Zipf rank order)
	t     genTables
}

func newCorpus(seed uint64, n int) *corpus {
	c := &corpus{seed: seed, n: max(n, 1), start: time.Date(2021, 1, 4, 7, 0, 0, 0, time.UTC), t: newGenTables()}
	span := time.Date(2026, 6, 30, 0, 0, 0, 0, time.UTC).Sub(c.start)
	c.step = span / time.Duration(c.n)
	var words []string
	for _, r := range c.t.roots {
		for _, h := range c.t.heads {
			words = append(words, r+h)
		}
	}
	for _, p := range c.t.nouns {
		words = append(words, strings.Split(p, "/")...)
	}
	words = append(words, c.t.other...)
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	rng.Shuffle(len(words), func(i, j int) { words[i], words[j] = words[j], words[i] })
	c.words = words
	return c
}

// genMailbox is a mailbox of the generated office.
type genMailbox struct {
	name, prefix string
	weight       int
}

// genTables holds the word lists of the generator.
type genTables struct {
	roots, heads, nouns, other, stop, first, last, streets, providers []string
	subjects, autoSubjects                                            []string
	mailboxes                                                         []genMailbox
}

func newGenTables() genTables {
	return genTables{
		roots: []string{"Bau", "Park", "Müll", "Straßen", "Grün", "Wasser", "Hunde", "Gewerbe", "Grund",
			"Wohn", "Schul", "Kita", "Markt", "Lärm", "Verkehrs", "Rad", "Fuß", "Spiel", "Sport",
			"Friedhofs", "Feuerwehr", "Umwelt", "Stadt", "Gemeinde", "Bürger", "Kinder", "Jugend",
			"Senioren", "Miet", "Steuer", "Abfall", "Energie", "Strom", "Heiz", "Garten", "Baum",
			"Kanal", "Brücken", "Ampel", "Bus", "Bahn", "Schnee", "Solar", "Dach", "Keller", "Fenster",
			"Zaun", "Hecken", "Anwohner", "Sondernutzungs", "Melde", "Pass", "Ausweis", "Führerschein",
			"Standesamts", "Geburts", "Ehe", "Sterbe", "Sozial", "Wohngeld", "Eltern", "Pflege",
			"Gesundheits", "Ordnungs", "Bußgeld", "Gaststätten", "Veranstaltungs", "Plakat", "Denkmal",
			"Fördermittel", "Haushalts", "Personal", "Vergabe", "Liegenschafts", "Vermessungs",
			"Kataster", "Bebauungs", "Nutzungs", "Lager", "Container", "Wasserrohr", "Laternen",
			"Fahrrad", "Zweitwohnungs", "Vergnügungs", "Kurbeitrags", "Feld", "Wald", "Spielplatz",
			"Glas", "Papier", "Bio", "Sperrmüll", "Altkleider"},
		heads: []string{"antrag", "genehmigung", "bescheid", "gebühr", "ordnung", "plan", "amt",
			"stelle", "platz", "weg", "fläche", "anlage", "vertrag", "recht", "pflicht", "schaden",
			"kosten", "steuer", "satzung", "verfahren", "prüfung", "meldung", "beschwerde", "anfrage",
			"termin", "frist", "zuschuss", "förderung", "nachweis", "karte", "konto", "rechnung",
			"bericht", "gutachten", "verwaltung", "zone", "tonne", "abfuhr"},
		nouns: []string{"Antrag/Anträge", "Genehmigung/Genehmigungen", "Bescheid/Bescheide",
			"Gebühr/Gebühren", "Straße/Straßen", "Grünfläche/Grünflächen", "Baum/Bäume",
			"Spielplatz/Spielplätze", "Mülltonne/Mülltonnen", "Schlagloch/Schlaglöcher",
			"Baustelle/Baustellen", "Ampel/Ampeln", "Radweg/Radwege", "Gehweg/Gehwege",
			"Laterne/Laternen", "Hund/Hunde", "Termin/Termine", "Frist/Fristen",
			"Widerspruch/Widersprüche", "Beschwerde/Beschwerden", "Anfrage/Anfragen",
			"Auskunft/Auskünfte", "Rechnung/Rechnungen", "Mahnung/Mahnungen", "Zahlung/Zahlungen",
			"Nachbar/Nachbarn", "Garage/Garagen", "Wohnung/Wohnungen", "Schule/Schulen",
			"Brücke/Brücken", "Unfall/Unfälle", "Schaden/Schäden", "Fahrzeug/Fahrzeuge",
			"Gebäude", "Grundstück/Grundstücke", "Unterlagen", "Formular/Formulare",
			"Kopie/Kopien", "Nachweis/Nachweise", "Sachbearbeiterin", "Sachbearbeiter",
			"Bürgermeister", "Verwaltung", "Gemeinde", "Stadt/Städte", "Haus/Häuser",
			"Lärm", "Dreck", "Sperrmüll", "Abfall/Abfälle", "Parkplatz/Parkplätze", "Bus/Busse",
			"Haltestelle/Haltestellen", "Kindergarten/Kindergärten", "Friedhof/Friedhöfe", "Grab/Gräber",
			"Veranstaltung/Veranstaltungen", "Markt/Märkte", "Baugenehmigung", "Bauvorhaben",
			"Bebauungsplan", "Zaun/Zäune", "Hecke/Hecken", "Fassade/Fassaden", "Dach/Dächer",
			"Miete/Mieten", "Wohngeld", "Elterngeld", "Geburtsurkunde", "Meldebescheinigung",
			"Personalausweis", "Reisepass", "Führerschein", "Kfz-Zulassung", "Gewerbeanmeldung",
			"Hundesteuer", "Grundsteuer", "Ratte/Ratten", "Taube/Tauben", "Wespennest",
			"Überschwemmung", "Keller", "Rohrbruch", "Straßenbeleuchtung", "Winterdienst", "Glatteis"},
		other: []string{"beantragen", "bitten", "mitteilen", "erhalten", "senden", "prüfen",
			"genehmigen", "ablehnen", "informieren", "melden", "beschweren", "zahlen", "überweisen",
			"fällen", "reparieren", "reinigen", "sperren", "öffnen", "schließen", "entfernen",
			"abholen", "zusenden", "nachreichen", "bestätigen", "widersprechen", "erstatten",
			"vereinbaren", "verschieben", "stornieren", "anmelden", "abmelden", "ummelden", "parken",
			"abschleppen", "kontrollieren", "dringend", "kaputt", "defekt", "laut", "gefährlich",
			"neu", "alt", "groß", "klein", "öffentlich", "privat", "schnell", "rechtzeitig", "verspätet",
			"unzumutbar", "freundlich", "zuständig", "vollständig", "unvollständig", "fehlerhaft",
			"gesperrt", "verschmutzt", "überfüllt", "beschädigt", "erneut", "leider", "dringendst",
			"gestern", "heute", "morgen", "wöchentlich", "monatlich", "nachts", "vormittags"},
		stop: []string{"der", "die", "das", "und", "ich", "Sie", "wir", "ist", "sind", "habe",
			"haben", "wurde", "seit", "mit", "von", "für", "auf", "in", "im", "an", "am", "zu", "zum",
			"zur", "bei", "nach", "über", "vor", "nicht", "noch", "schon", "bitte", "mein", "meine",
			"unser", "unsere", "Ihr", "Ihre", "den", "dem", "des", "ein", "eine", "einen", "es", "auch",
			"aber", "oder", "wenn", "dass", "wie", "was", "hier", "dort"},
		first: []string{"Hans", "Erika", "Karl", "Anna", "Peter", "Maria", "Jürgen", "Ursula",
			"Thomas", "Sabine", "Michael", "Andrea", "Stefan", "Monika", "Klaus", "Petra", "Wolfgang",
			"Claudia", "Jörg", "Birgit", "Uwe", "Susanne", "Frank", "Gabriele", "Dieter", "Renate",
			"Günter", "Helga", "Lukas", "Lea", "Jonas", "Leonie", "Ömer", "Ayşe", "Mehmet", "Fatma",
			"Paul", "Emma", "Felix", "Mia", "Björn", "Sören", "Jens", "Kerstin", "Horst", "Gisela",
			"Bernd", "Heike", "Ralf", "Anja", "Tobias", "Julia", "Sebastian", "Katrin", "Matthias",
			"Nicole", "Andreas", "Silke", "Markus", "Doris"},
		last: []string{"Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner",
			"Becker", "Schulz", "Hoffmann", "Schäfer", "Koch", "Bauer", "Richter", "Klein", "Wolf",
			"Schröder", "Neumann", "Schwarz", "Zimmermann", "Braun", "Krüger", "Hofmann", "Hartmann",
			"Lange", "Schmitt", "Werner", "Schmitz", "Krause", "Meier", "Lehmann", "Schmid", "Schulze",
			"Maier", "Köhler", "Herrmann", "König", "Walter", "Mayer", "Huber", "Kaiser", "Fuchs",
			"Peters", "Lang", "Scholz", "Möller", "Weiß", "Jung", "Hahn", "Schubert", "Vogel",
			"Friedrich", "Keller", "Günther", "Frank", "Berger", "Winkler", "Roth", "Beck", "Lorenz",
			"Baumann", "Franke", "Albrecht", "Schuster", "Simon", "Ludwig", "Böhm", "Winter", "Kraus",
			"Martin", "Schumacher", "Krämer", "Vogt", "Stein", "Jäger", "Otto", "Sommer", "Groß",
			"Seidel", "Heinrich", "Brandt", "Haas", "Schreiber", "Graf", "Schulte", "Dietrich",
			"Ziegler", "Kuhn", "Kühn", "Pohl", "Engel", "Horn", "Busch", "Bergmann", "Thomas",
			"Voigt", "Sauer", "Arnold", "Wolff", "Pfeiffer", "Yılmaz", "Kaya", "Demir", "Şahin",
			"Nowak", "Kowalski", "Lüdenscheidt", "Öztürk", "Gößling", "Büttner", "Förster"},
		streets: []string{"Hauptstraße", "Schulstraße", "Gartenstraße", "Bahnhofstraße",
			"Dorfstraße", "Bergstraße", "Birkenweg", "Lindenstraße", "Kirchstraße", "Waldstraße",
			"Ringstraße", "Schillerstraße", "Goethestraße", "Mühlenweg", "Am Markt", "Kirchplatz",
			"Wiesenweg", "Rosenstraße", "Friedhofstraße", "Jahnstraße", "Feldstraße", "Mozartstraße",
			"Am Sportplatz", "Poststraße", "Industriestraße", "Kastanienallee", "Eichendorffweg",
			"Uhlandstraße", "Beethovenstraße", "Talstraße"},
		providers: []string{"gmx.de", "web.de", "t-online.de", "gmail.com", "posteo.de",
			"outlook.de", "yahoo.de", "freenet.de", "mailbox.org", "icloud.com"},
		mailboxes: []genMailbox{{"poststelle", "POST", 40}, {"bauamt", "BAU", 20}, {"ordnungsamt", "ORD", 15},
			{"buergerbuero", "BB", 15}, {"kaemmerei", "KAE", 10}},
		subjects: []string{"Antrag auf %s", "Beschwerde über %s in der %s", "Frage zu meinem %s",
			"%s %s", "Widerspruch gegen %s vom %s", "Terminanfrage %s", "%s – bitte um Rückruf",
			"Anfrage %s", "Meldung: %s", "Unterlagen zum %s", "Erinnerung: %s", "%s nachgereicht"},
		autoSubjects: []string{"Automatische Antwort: %s", "Undelivered Mail Returned to Sender",
			"Newsletter %s", "Ihre Rechnung Nr. %s", "Abwesenheitsnotiz: %s", "Lesebestätigung: %s",
			"Delivery Status Notification (Failure)", "Ihre Bestellung %s"},
	}
}

// genDoc is a generated mail plus what a benchmark query can be built from.
type genDoc struct {
	Doc
	Last  string // sender's last name
	Words []string
}

// rng returns the random source of document i (and of its purpose p).
func (c *corpus) rng(i int, p uint64) *rand.Rand {
	return rand.New(rand.NewPCG(c.seed^uint64(i)*0x9e3779b97f4a7c15, p))
}

// word draws a content word with Zipf frequencies.
func (c *corpus) word(z *rand.Zipf) string { return c.words[z.Uint64()] }

func (c *corpus) zipf(r *rand.Rand) *rand.Zipf {
	return rand.NewZipf(r, 1.1, 2, uint64(len(c.words)-1))
}

// root describes the case a document opens: mailbox, prefix, sender.
type genRoot struct {
	mailbox, prefix, first, last, from string
	org                                bool
}

func (c *corpus) root(i int) genRoot {
	r := c.rng(i, 1)
	w := r.IntN(100)
	var g genRoot
	for _, m := range c.t.mailboxes {
		if w < m.weight {
			g.mailbox, g.prefix = m.name, m.prefix
			break
		}
		w -= m.weight
	}
	g.first = c.t.first[r.IntN(len(c.t.first))]
	g.last = c.t.last[r.IntN(len(c.t.last))]
	local := asciiFold(strings.ToLower(g.first + "." + g.last))
	switch r.IntN(6) {
	case 0:
		local = asciiFold(strings.ToLower(g.first[:1] + g.last))
	case 1:
		local = fmt.Sprintf("%s%d", asciiFold(strings.ToLower(g.last)), 1950+r.IntN(55))
	case 2:
		g.org = true
		local = "info"
	}
	domain := c.t.providers[r.IntN(len(c.t.providers))]
	if g.org {
		domain = strings.ToLower(asciiFold(g.last)) + "-" + []string{"bau", "immobilien", "gmbh", "hausverwaltung", "elektro"}[r.IntN(5)] + ".de"
	}
	g.from = local + "@" + domain
	return g
}

func asciiFold(s string) string {
	return strings.NewReplacer("ä", "ae", "ö", "oe", "ü", "ue", "ß", "ss", "Ä", "Ae", "Ö", "Oe", "Ü", "Ue", "ı", "i", "ş", "s", "Ş", "S").Replace(s)
}

// received is the date of document i: increasing with i, ties possible.
func (c *corpus) received(i int) time.Time {
	r := c.rng(i, 2)
	return c.start.Add(time.Duration(i)*c.step + time.Duration(r.Int64N(int64(c.step)+1))).Truncate(time.Second)
}

func (c *corpus) reference(i int, g genRoot) string {
	year := c.received(i).Year()
	n := uint64(i + 1)
	return fmt.Sprintf("%s-%d-%06d-%d", g.prefix, year, n, ticket.CheckDigit(year, n))
}

// doc returns document i (0 <= i < n) with Seq i+1.
func (c *corpus) doc(i int) genDoc {
	r := c.rng(i, 3)
	z := c.zipf(r)
	g := c.root(i)
	ref := c.reference(i, g)
	subjectOf := func(rr *rand.Rand, zz *rand.Zipf) string {
		t := c.t.subjects[rr.IntN(len(c.t.subjects))]
		args := []any{c.word(zz), c.t.streets[rr.IntN(len(c.t.streets))]}
		if strings.HasPrefix(t, "Widerspruch") {
			args[1] = c.received(i).AddDate(0, 0, -rr.IntN(60)).Format("02.01.2006")
		}
		return fmt.Sprintf(t, args[:strings.Count(t, "%s")]...)
	}
	d := genDoc{Doc: Doc{Seq: uint64(i + 1), Kind: "citizen", Received: c.received(i)}}
	subject := subjectOf(r, z)
	// A fifth of the mails follow up an earlier case of the same sender.
	if i > 10 && r.IntN(5) == 0 {
		j := i - 1 - r.IntN(min(i-1, 5000))
		jr := c.rng(j, 3)
		g = c.root(j)
		ref = c.reference(j, g)
		subject = fmt.Sprintf("AW: Eingangsbestätigung – Az. %s: %s", ref, subjectOf(jr, c.zipf(jr)))
	}
	d.Reference, d.Mailbox, d.From = ref, g.mailbox, g.from
	d.Last = g.last
	if g.org {
		d.FromName = g.last + " " + []string{"Bau GmbH", "Immobilien", "Hausverwaltung KG", "Elektro"}[r.IntN(4)]
	} else if r.IntN(10) > 0 {
		d.FromName = g.first + " " + g.last
	}
	switch k := r.IntN(100); {
	case k < 3:
		d.Kind, d.From, d.FromName, subject = "malformed", "", "", ""
	case k < 15:
		d.Kind = "automated"
		t := c.t.autoSubjects[r.IntN(len(c.t.autoSubjects))]
		if strings.Contains(t, "%s") {
			subject = fmt.Sprintf(t, c.word(z))
		} else {
			subject = t
		}
		d.From, d.FromName = "mailer-daemon@"+c.t.providers[r.IntN(len(c.t.providers))], "Mail Delivery System"
	}
	d.Subject = subject
	age := c.received(c.n - 1).Sub(d.Received)
	switch p := r.IntN(100); {
	case age > 60*24*time.Hour && p < 90, age <= 60*24*time.Hour && p < 10:
		d.Status = "closed"
	case p < 96 && age > 60*24*time.Hour, p < 55:
		d.Status = "in_progress"
	default:
		d.Status = "new"
	}

	var b strings.Builder
	b.WriteString([]string{"Sehr geehrte Damen und Herren,\n\n", "Guten Tag,\n\n", "Hallo,\n\n", "Sehr geehrte Frau Schneider,\n\n"}[r.IntN(4)])
	sentences := 4 + r.IntN(22)
	for s := 0; s < sentences; s++ {
		n := 7 + r.IntN(12)
		for k := 0; k < n; k++ {
			var w string
			switch x := r.IntN(100); {
			case x < 42:
				w = c.t.stop[r.IntN(len(c.t.stop))]
			case x < 44:
				w = fmt.Sprintf("%d", 1+r.IntN(200))
			case x < 45:
				w = d.Received.AddDate(0, 0, -r.IntN(400)).Format("02.01.2006")
			case x < 46:
				w = c.t.streets[r.IntN(len(c.t.streets))] + fmt.Sprintf(" %d", 1+r.IntN(120))
			case x < 47:
				w = fmt.Sprintf("%d,%02d €", r.IntN(3000), r.IntN(100))
			case x < 48:
				w = c.t.last[r.IntN(len(c.t.last))]
			default:
				w = c.word(z)
				d.Words = append(d.Words, w)
			}
			if k == 0 {
				w = capitalize(w)
			} else {
				b.WriteByte(' ')
			}
			b.WriteString(w)
		}
		b.WriteString([]string{". ", ". ", ".\n", "? ", "!\n\n"}[r.IntN(5)])
	}
	fmt.Fprintf(&b, "\n\nMit freundlichen Grüßen\n%s %s\n%s %d\n%05d Musterstadt\nTel. 0%d %d\n",
		g.first, g.last, c.t.streets[r.IntN(len(c.t.streets))], 1+r.IntN(120), 10000+r.IntN(89999),
		30+r.IntN(9000), 100000+r.IntN(9899999))
	if d.Kind == "malformed" {
		b.Reset()
		d.Words = nil
	}
	d.Body = b.String()
	for a := r.IntN(5) - 2; a > 0; a-- {
		d.Attachments = append(d.Attachments, []string{
			fmt.Sprintf("Scan_%s.pdf", d.Received.Format("2006-01-02")),
			fmt.Sprintf("%s_%s.pdf", c.word(z), asciiFold(g.last)),
			fmt.Sprintf("IMG_%04d.jpg", r.IntN(10000)),
			"Antrag_ausgefuellt.pdf", "Lageplan.pdf", "Vollmacht.pdf",
		}[r.IntN(6)])
	}
	return d
}

// capitalize upper-cases the first letter of w.
func capitalize(w string) string {
	for i, r := range w {
		if i == 0 {
			return string(unicode.ToUpper(r)) + w[utf8.RuneLen(r):]
		}
	}
	return w
}
