"""A labelled German/English corpus of call summaries and transcripts with personal data, for
measuring PII recognisers (issue 6). Reproducible: a fixed seed, Faker's de_DE and en_US locales
for names, streets, towns, e-mail addresses, IBANs, card numbers and dates, and python-stdnum to
check every identifier it makes. Telecom identifiers (IMEI, ICCID, IMSI, MSISDN) and German phone
numbers follow their formats; customer numbers the reference policy's pattern (KD- and seven
digits). Each document mixes entities with look-alikes that are not personal data: appointment
dates, order and invoice numbers, amounts, numbers with a wrong check digit.

    python make_corpus.py OUT.jsonl [DOCUMENTS] [SEED]

Each line: {"lang": "de"|"en", "text": ..., "spans": [[start, end, label], ...]} with byte
offsets into the UTF-8 text.
"""

import datetime
import json
import random
import sys

from faker import Faker
from stdnum import iban as stdiban
from stdnum import imei as stdimei
from stdnum import luhn


def luhn_complete(prefix, length, rng):
    body = prefix + "".join(rng.choice("0123456789") for _ in range(length - len(prefix) - 1))
    return body + luhn.calc_check_digit(body)


def make_imei(rng):
    tac = rng.choice(["35", "86", "49", "01", "99"]) + "".join(rng.choice("0123456789") for _ in range(6))
    v = luhn_complete(tac, 15, rng)
    assert stdimei.is_valid(v)
    return v


def make_iccid(rng):
    v = luhn_complete("8949" + rng.choice(["01", "02", "22", "07"]), rng.choice([19, 20]), rng)
    assert luhn.is_valid(v)
    return v


def make_imsi(rng):
    return "26201" + "".join(rng.choice("0123456789") for _ in range(10))


def make_msisdn(rng):
    return "49" + rng.choice(["151", "160", "170", "171", "175", "152", "162", "176"]) + "".join(
        rng.choice("0123456789") for _ in range(rng.choice([7, 8])))


def make_phone(rng):
    area = rng.choice(["30", "40", "89", "221", "228", "69", "711", "341", "351", "511"])
    mobile = rng.choice(["151", "160", "170", "171", "175", "152", "176"])
    sub = "".join(rng.choice("0123456789") for _ in range(rng.choice([6, 7, 8])))
    forms = [
        f"+49 {area} {sub}", f"0{area} {sub}", f"0{area}/{sub}", f"0{area}-{sub}",
        f"+49 {mobile} {sub}", f"0{mobile} {sub}", f"+49 (0){area} {sub}", f"0049 {area} {sub}",
        f"+44 20 {sub[:4]} {sub[4:]}" if len(sub) >= 8 else f"+44 161 {sub}",
        f"+33 1 {sub[:2]} {sub[2:4]} {sub[4:6]} {sub[6:] or '00'}",
    ]
    return rng.choice(forms)


def make_card(fake):
    v = fake.credit_card_number(card_type=fake.random_element(["visa16", "mastercard", "amex"]))
    assert luhn.is_valid(v)
    return v


def spaced(digits, rng, group=4):
    if rng.random() < 0.5:
        return digits
    return " ".join(digits[i:i + group] for i in range(0, len(digits), group))


def make_iban(fake, rng):
    v = fake.iban()
    stdiban.validate(v)
    return spaced(v, rng)


def wrong_check(digits):
    last = int(digits[-1])
    return digits[:-1] + str((last + 1) % 10)


def person_name(fake, rng):
    # First and family name only: academic suffixes ("B.Sc.") are not part of a name in the gold.
    return f"{fake.first_name()} {fake.last_name()}"


def address(fake):
    return f"{fake.street_address()}, {fake.postcode()} {fake.city()}"


def dob(fake, rng, lang):
    d = fake.date_between_dates(datetime.date(1936, 1, 1), datetime.date(2007, 12, 31))
    if lang == "de":
        return d.strftime(rng.choice(["%d.%m.%Y", "%Y-%m-%d"]))
    return d.strftime("%Y-%m-%d")


def appointment(fake):
    # Fixed bounds (not relative to today), so the corpus is the same on every day.
    return fake.date_between_dates(datetime.date(2026, 1, 1), datetime.date(2027, 6, 30)).strftime("%d.%m.%Y")


TEMPLATES = {
    "de": [
        "Anruf von {title} {NAME}, Kundennummer {CUSTOMER_NUMBER}. Die SIM mit ICCID {ICCID} ist gesperrt; "
        "neue Karte an {ADDRESS}. Rückruf unter {PHONE}. Termin am {APPT}, Bestellnummer {ORDER}.",
        "Kundin {NAME} (geboren am {DATE_OF_BIRTH}) meldet, dass das Gerät mit IMEI {IMEI} gestohlen wurde. "
        "Kontakt per Mail an {EMAIL}. Betrag offen: {AMOUNT} EUR.",
        "Zusammenfassung: {title} {NAME} möchte die Abbuchung von IBAN {IBAN} ändern. Rechnungsnummer {INVOICE}, "
        "Vertrag seit {APPT}. Anschrift: {ADDRESS}.",
        "Der Anrufer nannte die IMSI {IMSI} und die Rufnummer {MSISDN}. Er bat um eine Rechnungskopie an "
        "{EMAIL}. Auftragsnummer {ORDER}.",
        "Mein Name ist {NAME}, meine Kundennummer ist {CUSTOMER_NUMBER}. Ich habe mit der Karte {PAYMENT_CARD} "
        "bezahlt, aber die Zahlung vom {APPT} wurde zweimal gebucht.",
        "Ticket {INVOICE}: Modem ohne Netz. Seriennummer {BADIMEI}. Techniker kommt am {APPT} zu {ADDRESS}. "
        "Ansprechpartner {NAME}, Telefon {PHONE}.",
        "Geburtsdatum {DATE_OF_BIRTH} geprüft. Frau {LAST} bittet um Portierung von {PHONE}. "
        "Neue SIM ICCID {ICCID}.",
        "Sprach mit {NAME} wegen Datenvolumen. Kein Fehler gefunden; Tarif bleibt. Nächster Kontakt {APPT}.",
        "Lastschrift gescheitert, IBAN {BADIBAN} ungültig. Kunde {NAME} sendet neue Daten an {EMAIL}.",
        "Die Zahlung über {AMOUNT} EUR am {APPT} ist eingegangen. Bestellnummer {ORDER}.",
    ],
    "en": [
        "Call from {title_en} {NAME}, customer number {CUSTOMER_NUMBER}. The SIM with ICCID {ICCID} is blocked; "
        "a new card goes to {ADDRESS}. Call back on {PHONE}. Appointment on {APPT}, order number {ORDER}.",
        "Customer {NAME} (date of birth {DATE_OF_BIRTH}) reports that the device with IMEI {IMEI} was stolen. "
        "Contact by e-mail at {EMAIL}. Amount due: EUR {AMOUNT}.",
        "Summary: {title_en} {NAME} wants to change the direct debit from IBAN {IBAN}. Invoice {INVOICE}, "
        "contract since {APPT}. Address: {ADDRESS}.",
        "The caller gave IMSI {IMSI} and MSISDN {MSISDN} and asked for a copy of the invoice at {EMAIL}. "
        "Order number {ORDER}.",
        "My name is {NAME}, my customer number is {CUSTOMER_NUMBER}. I paid with card {PAYMENT_CARD}, but the "
        "payment of {APPT} was booked twice.",
        "Ticket {INVOICE}: router offline. Serial number {BADIMEI}. A technician visits {ADDRESS} on {APPT}. "
        "Contact {NAME}, phone {PHONE}.",
        "DOB {DATE_OF_BIRTH} verified. {title_en} {LAST} asks to port {PHONE}. New SIM ICCID {ICCID}.",
        "Spoke with {NAME} about data volume. No fault found; the tariff stays. Next contact {APPT}.",
        "Direct debit failed, IBAN {BADIBAN} is invalid. Customer {NAME} sends new details to {EMAIL}.",
        "The payment of EUR {AMOUNT} on {APPT} was received. Order number {ORDER}.",
    ],
}

LABELS = {"NAME": "PERSON", "LAST": "PERSON"}


def fill(template, lang, fake, rng):
    values = {
        "title": rng.choice(["Herr", "Frau"]),
        "title_en": rng.choice(["Mr", "Mrs", "Ms"]),
        "APPT": appointment(fake),
        "ORDER": "".join(rng.choice("0123456789") for _ in range(rng.choice([8, 10]))),
        "INVOICE": f"RE-{rng.randint(2024, 2026)}-{rng.randint(1, 999999):06d}",
        "AMOUNT": f"{rng.randint(5, 400)},{rng.randint(0, 99):02d}" if lang == "de" else f"{rng.randint(5, 400)}.{rng.randint(0, 99):02d}",
        "BADIMEI": wrong_check(make_imei(rng)),
        "BADIBAN": "DE00" + fake.iban()[4:],
    }
    out = []
    spans = []
    pos = 0
    i = 0
    while i < len(template):
        if template[i] == "{":
            j = template.index("}", i)
            key = template[i + 1:j]
            if key in values:
                value = values[key]
                label = None
            else:
                label = LABELS.get(key, key)
                value = {
                    "NAME": lambda: person_name(fake, rng),
                    "LAST": lambda: fake.last_name(),
                    "ADDRESS": lambda: address(fake),
                    "PHONE": lambda: make_phone(rng),
                    "EMAIL": lambda: fake.email(),
                    "IBAN": lambda: make_iban(fake, rng),
                    "PAYMENT_CARD": lambda: spaced(make_card(fake), rng),
                    "ICCID": lambda: make_iccid(rng),
                    "IMEI": lambda: make_imei(rng),
                    "IMSI": lambda: make_imsi(rng),
                    "MSISDN": lambda: make_msisdn(rng),
                    "CUSTOMER_NUMBER": lambda: f"KD-{rng.randint(0, 9999999):07d}",
                    "DATE_OF_BIRTH": lambda: dob(fake, rng, lang),
                }[key]()
            start = pos
            out.append(value)
            pos += len(value.encode())
            if label:
                spans.append([start, pos, label])
            i = j + 1
        else:
            out.append(template[i])
            pos += len(template[i].encode())
            i += 1
    return "".join(out), spans


def main():
    path = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
    seed = int(sys.argv[3]) if len(sys.argv) > 3 else 6
    rng = random.Random(seed)
    fakes = {"de": Faker("de_DE"), "en": Faker("en_US")}
    # Addresses are German in both languages: the operator is German.
    fakes["en"].street_address = fakes["de"].street_address
    fakes["en"].postcode = fakes["de"].postcode
    fakes["en"].city = fakes["de"].city
    Faker.seed(seed)
    with open(path, "w", encoding="utf-8") as f:
        for k in range(n):
            lang = "de" if k % 2 == 0 else "en"
            template = rng.choice(TEMPLATES[lang])
            text, spans = fill(template, lang, fakes[lang], rng)
            f.write(json.dumps({"lang": lang, "text": text, "spans": spans}, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
