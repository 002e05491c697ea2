package templates

import (
	"strconv"
	"time"
)

// DefaultHandlingTime is the handling time the acknowledgement names when Data gives
// none: four weeks.
const DefaultHandlingTime = 4 * 7 * 24 * time.Hour

// DefaultLegalBasis is cited for the written form when Data gives none: § 3a of the
// federal Verwaltungsverfahrensgesetz.
const DefaultLegalBasis = "§ 3a VwVfG"

var (
	numberDE = []string{"null", "ein", "zwei", "drei", "vier", "fünf", "sechs", "sieben", "acht", "neun", "zehn", "elf", "zwölf"}
	numberEN = []string{"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve"}
)

// periodUnit splits d into a count and a unit index: 0 weeks, 1 days, 2 hours, 3 minutes
// (the largest whole unit).
func periodUnit(d time.Duration) (int64, int) {
	const day = 24 * time.Hour
	for i, u := range []time.Duration{7 * day, day, time.Hour, time.Minute} {
		if d >= u && d%u == 0 {
			return int64(d / u), i
		}
	}
	return int64(max(d/time.Minute, 1)), 3
}

// periodDE names d as it follows "länger als": "vier Wochen", "eine Woche", "zehn Tage",
// "30 Tage", "2 Stunden". Numbers up to twelve are written out (DIN 5008 custom).
func periodDE(d time.Duration) string {
	n, u := periodUnit(d)
	if n == 1 {
		return []string{"eine Woche", "einen Tag", "eine Stunde", "eine Minute"}[u]
	}
	num := strconv.FormatInt(n, 10)
	if n < int64(len(numberDE)) {
		num = numberDE[n]
	}
	return num + " " + []string{"Wochen", "Tage", "Stunden", "Minuten"}[u]
}

// periodEN names d in English: "four weeks", "one day", "30 days".
func periodEN(d time.Duration) string {
	n, u := periodUnit(d)
	num := strconv.FormatInt(n, 10)
	if n < int64(len(numberEN)) {
		num = numberEN[n]
	}
	unit := []string{"week", "day", "hour", "minute"}[u]
	if n != 1 {
		unit += "s"
	}
	return num + " " + unit
}
