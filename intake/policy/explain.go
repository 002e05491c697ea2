package policy

// Explain gives a one-line human explanation of a reason code, German first, English second
// (for `intake explain`, the case view and logs). An unknown code gets a generic line.
func Explain(r Reason) (de, en string) {
	switch r {
	case "":
		return "Eingangsbestätigung wird gesendet.", "An acknowledgement is sent."
	case ReasonNullSender:
		return "Kein eindeutiger Absender (Return-Path leer, fehlend, ungültig oder mehrdeutig).",
			"No single usable sender (Return-Path empty, missing, invalid or ambiguous)."
	case ReasonAutoSubmitted:
		return "Automatisch erzeugte Nachricht (Auto-Submitted).",
			"Automatically generated message (Auto-Submitted)."
	case ReasonReport:
		return "Maschinenbericht: Zustell-, Lese- oder Missbrauchsbericht.",
			"Machine report: delivery, read or abuse report."
	case ReasonSystemSender:
		return "Absender ist ein Systemkonto (z. B. MAILER-DAEMON, noreply, Listenverwaltung).",
			"Sender is a system account (e.g. MAILER-DAEMON, noreply, list manager)."
	case ReasonList:
		return "Nachricht einer Mailingliste.", "Mailing list message."
	case ReasonPrecedence:
		return "Massen- oder Listenversand (Precedence).", "Bulk or list mail (Precedence)."
	case ReasonXARS:
		return "Absender bittet, keine automatischen Antworten zu senden (X-Auto-Response-Suppress).",
			"Sender asks for no automatic replies (X-Auto-Response-Suppress)."
	case ReasonVendorAuto:
		return "Automatische Antwort eines Mailsystems (Herstellerkennzeichen).",
			"Automatic reply of a mail system (vendor marker)."
	case ReasonSubjectHeuristic:
		return "Betreff deutet auf eine automatische Nachricht hin; bitte prüfen.",
			"Subject suggests an automatic message; please review."
	case ReasonOwnLoop:
		return "Eigene Nachricht kam zurück (Schleifenschutz); bitte prüfen.",
			"Our own message came back (loop protection); please review."
	case ReasonSpam:
		return "Vom Spamfilter als Spam markiert.", "Marked as spam by the spam filter."
	case ReasonNotAddressed:
		return "Nicht direkt an das Postfach adressiert (nur Kopie oder Weiterleitung).",
			"Not addressed to the mailbox directly (copy or redirect only)."
	case ReasonUnauthenticated:
		return "Absenderadresse nicht authentifiziert (SPF/DKIM/DMARC).",
			"Sender address not authenticated (SPF/DKIM/DMARC)."
	case ReasonAuthFail:
		return "Authentifizierung fehlgeschlagen (SPF oder DMARC fail); bitte prüfen.",
			"Authentication failed (SPF or DMARC fail); please review."
	case ReasonFollowUp:
		return "Folgenachricht zu einem bestehenden Vorgang; für Folgenachrichten werden keine Eingangsbestätigungen gesendet.",
			"Follow-up on an existing case; no acknowledgement is sent for follow-ups."
	case ReasonRate:
		return "Diesem Absender wurde in den letzten 24 Stunden bereits mehrfach geantwortet (Mengenbegrenzung je Adresse).",
			"This sender was answered several times in the last 24 hours (rate limit per address)."
	case ReasonRateCase:
		return "In diesem Vorgang wurde in den letzten 24 Stunden bereits eine Eingangsbestätigung gesendet.",
			"This case got an acknowledgement in the last 24 hours already."
	case ReasonRateDomain:
		return "Zu viele Eingangsbestätigungen an nicht verifizierte Absender dieser Domain in 24 Stunden (Mengenbegrenzung).",
			"Too many acknowledgements to unverified senders of this domain in 24 hours (rate limit)."
	case ReasonRateUnverified:
		return "Stundenkontingent für nicht verifizierte Absender ausgeschöpft; verifizierte Absender erhalten weiter Bestätigungen.",
			"Hourly budget for unverified senders used up; verified senders still get acknowledgements."
	case ReasonMalformed:
		return "Nachricht nicht lesbar (fehlerhafter Kopf).", "Message unreadable (malformed header)."
	case ReasonAckDisabled:
		return "Eingangsbestätigungen sind für dieses Postfach abgeschaltet.",
			"Acknowledgements are disabled for this mailbox."
	case ReasonTooOld:
		return "Nachricht zu alt für eine Eingangsbestätigung.", "Message too old for an acknowledgement."
	case ReasonOversize:
		return "Nachricht zu groß.", "Message too large."
	case ReasonNoRecipient:
		return "Keine Antwortadresse ermittelt; bitte prüfen.",
			"No reply address was determined; please review."
	case ReasonPurged:
		return "Vorgang nach den Aufbewahrungsregeln gelöscht, bevor die Eingangsbestätigung gesendet war.",
			"Case deleted under the retention rules before its acknowledgement was sent."
	case ReasonClerk:
		return "Zwischennachricht von einer Sachbearbeiterin oder einem Sachbearbeiter abbestellt.",
			"Interim notice suppressed by a clerk."
	case ReasonNoAck:
		return "Keine Zwischennachricht: die Eingangsbestätigung wurde nicht zugestellt (unterdrückt, fehlgeschlagen oder unzustellbar).",
			"No interim notice: the acknowledgement was not delivered (suppressed, failed or bounced)."
	}
	return "Keine Eingangsbestätigung (" + string(r) + ").", "No acknowledgement (" + string(r) + ")."
}
