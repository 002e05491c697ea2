package lettergen

// The word lists of the generator (read only).
var (
	roots = []string{"Bau", "Park", "Müll", "Straßen", "Grün", "Wasser", "Hunde", "Gewerbe", "Grund",
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
		"Glas", "Papier", "Bio", "Sperrmüll", "Altkleider"}
	heads = []string{"antrag", "genehmigung", "bescheid", "gebühr", "ordnung", "plan", "amt",
		"stelle", "platz", "weg", "fläche", "anlage", "vertrag", "recht", "pflicht", "schaden",
		"kosten", "steuer", "satzung", "verfahren", "prüfung", "meldung", "beschwerde", "anfrage",
		"termin", "frist", "zuschuss", "förderung", "nachweis", "karte", "konto", "rechnung",
		"bericht", "gutachten", "verwaltung", "zone", "tonne", "abfuhr"}
	nouns = []string{"Antrag/Anträge", "Genehmigung/Genehmigungen", "Bescheid/Bescheide",
		"Gebühr/Gebühren", "Straße/Straßen", "Grünfläche/Grünflächen", "Baum/Bäume",
		"Spielplatz/Spielplätze", "Mülltonne/Mülltonnen", "Schlagloch/Schlaglöcher",
		"Baustelle/Baustellen", "Ampel/Ampeln", "Radweg/Radwege", "Gehweg/Gehwege",
		"Laterne/Laternen", "Hund/Hunde", "Termin/Termine", "Frist/Fristen",
		"Widerspruch/Widersprüche", "Beschwerde/Beschwerden", "Anfrage/Anfragen",
		"Auskunft/Auskünfte", "Rechnung/Rechnungen", "Mahnung/Mahnungen", "Zahlung/Zahlungen",
		"Nachbar/Nachbarn", "Garage/Garagen", "Wohnung/Wohnungen", "Schule/Schulen",
		"Brücke/Brücken", "Unfall/Unfälle", "Schaden/Schäden", "Fahrzeug/Fahrzeuge",
		"Gebäude", "Grundstück/Grundstücke", "Unterlagen", "Formular/Formulare", "Kopie/Kopien",
		"Sachbearbeiterin", "Sachbearbeiter", "Bürgermeister", "Haus/Häuser", "Lärm", "Dreck",
		"Parkplatz/Parkplätze", "Haltestelle/Haltestellen", "Kindergarten/Kindergärten",
		"Friedhof/Friedhöfe", "Grab/Gräber", "Veranstaltung/Veranstaltungen", "Bauvorhaben",
		"Hecke/Hecken", "Fassade/Fassaden", "Dach/Dächer", "Miete/Mieten", "Elterngeld",
		"Geburtsurkunde", "Meldebescheinigung", "Personalausweis", "Reisepass", "Kfz-Zulassung",
		"Gewerbeanmeldung", "Hundesteuer", "Grundsteuer", "Ratte/Ratten", "Taube/Tauben",
		"Wespennest", "Überschwemmung", "Rohrbruch", "Straßenbeleuchtung", "Winterdienst", "Glatteis"}
	others = []string{"beantragen", "bitten", "mitteilen", "erhalten", "senden", "prüfen",
		"genehmigen", "ablehnen", "informieren", "melden", "beschweren", "zahlen", "überweisen",
		"fällen", "reparieren", "reinigen", "sperren", "öffnen", "schließen", "entfernen",
		"abholen", "zusenden", "nachreichen", "bestätigen", "widersprechen", "erstatten",
		"vereinbaren", "verschieben", "stornieren", "anmelden", "abmelden", "ummelden", "parken",
		"abschleppen", "kontrollieren", "dringend", "kaputt", "defekt", "laut", "gefährlich",
		"neu", "alt", "groß", "klein", "öffentlich", "privat", "schnell", "rechtzeitig", "verspätet",
		"unzumutbar", "freundlich", "zuständig", "vollständig", "unvollständig", "fehlerhaft",
		"gesperrt", "verschmutzt", "überfüllt", "beschädigt", "erneut", "leider",
		"gestern", "heute", "morgen", "wöchentlich", "monatlich", "nachts", "vormittags"}
	stopWords = []string{"der", "die", "das", "und", "ich", "Sie", "wir", "ist", "sind", "habe",
		"haben", "wurde", "seit", "mit", "von", "für", "auf", "in", "im", "an", "am", "zu", "zum",
		"zur", "bei", "nach", "über", "vor", "nicht", "noch", "schon", "bitte", "mein", "meine",
		"unser", "unsere", "Ihr", "Ihre", "den", "dem", "des", "ein", "eine", "einen", "es", "auch",
		"aber", "oder", "wenn", "dass", "wie", "was", "hier", "dort"}
	firstNames = []string{"Hans", "Erika", "Karl", "Anna", "Peter", "Maria", "Jürgen", "Ursula",
		"Thomas", "Sabine", "Michael", "Andrea", "Stefan", "Monika", "Klaus", "Petra", "Wolfgang",
		"Claudia", "Jörg", "Birgit", "Uwe", "Susanne", "Frank", "Gabriele", "Dieter", "Renate",
		"Günter", "Helga", "Lukas", "Lea", "Jonas", "Leonie", "Ömer", "Ayşe", "Mehmet", "Fatma",
		"Paul", "Emma", "Felix", "Mia", "Björn", "Sören", "Jens", "Kerstin", "Horst", "Gisela"}
	lastNames = []string{"Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner",
		"Becker", "Schulz", "Hoffmann", "Schäfer", "Koch", "Bauer", "Richter", "Klein", "Wolf",
		"Schröder", "Neumann", "Schwarz", "Zimmermann", "Braun", "Krüger", "Hofmann", "Hartmann",
		"Lange", "Schmitt", "Werner", "Schmitz", "Krause", "Meier", "Lehmann", "Köhler", "König",
		"Huber", "Kaiser", "Fuchs", "Möller", "Weiß", "Jung", "Hahn", "Vogel", "Günther", "Jäger",
		"Groß", "Kühn", "Yılmaz", "Kaya", "Demir", "Öztürk", "Nowak", "Kowalski", "Gößling", "Büttner"}
	streets = []string{"Hauptstraße", "Schulstraße", "Gartenstraße", "Bahnhofstraße",
		"Dorfstraße", "Bergstraße", "Birkenweg", "Lindenstraße", "Kirchstraße", "Waldstraße",
		"Ringstraße", "Schillerstraße", "Goethestraße", "Mühlenweg", "Am Markt", "Kirchplatz",
		"Wiesenweg", "Rosenstraße", "Jahnstraße", "Feldstraße", "Kastanienallee", "Talstraße"}
	providers = []string{"gmx.de", "web.de", "t-online.de", "gmail.com", "posteo.de",
		"outlook.de", "yahoo.de", "freenet.de", "mailbox.org", "icloud.com"}
	subjects = []string{"Antrag auf %s", "Beschwerde über %s in der %s", "Frage zu meinem %s",
		"%s %s", "Terminanfrage %s", "%s – bitte um Rückruf", "Anfrage %s", "Meldung: %s",
		"Unterlagen zum %s", "Erinnerung: %s", "%s nachgereicht"}
	greetings = []string{"Sehr geehrte Damen und Herren,\n\n", "Guten Tag,\n\n", "Hallo,\n\n",
		"Sehr geehrte Frau Schneider,\n\n"}
)
