"""The demo's reference data: where seekers live, who employs them, which services exist and
how often things happen. Tables only; the generator's logic is in the other modules."""

from __future__ import annotations

from timeline.domain.event_types import EventType

#: the Lahti-region municipal pilot 2021–2024 (RESEARCH.md 9.1) with relative weights
LAHTI_REGION: dict[str, float] = {"398": 0.62, "098": 0.15, "560": 0.12, "016": 0.06, "316": 0.05}
OTHER_MUNICIPALITIES: dict[str, float] = {
    "837": 0.30,
    "091": 0.25,
    "853": 0.20,
    "092": 0.15,
    "743": 0.10,
}
LAHTI_SHARE = 0.60
LAHTI_TABLE = tuple(LAHTI_REGION.items())
OTHER_TABLE = tuple(OTHER_MUNICIPALITIES.items())

BACKDATE_SHARE = 0.05
CORRECTION_SHARE = 0.014
RETRACTION_SHARE = 0.008

EMPLOYER_NAMES = (
    "Lahden Rakennus Oy", "Päijät-Hämeen Logistiikka Oy", "Hollolan Konepaja Oy",
    "Orimattilan Puu ja Kaluste Oy", "Asikkalan Matkailu Oy", "Kärkölän Elintarvike Oy",
    "Salpausselän Siivouspalvelut Oy", "Vesijärven Venetelakka Oy", "Tampereen Ohjelmisto Oy",
    "Pirkanmaan Hoivapalvelut Oy", "Turun Satamapalvelut Oy", "Varsinais-Suomen Kuljetus Oy",
    "Helsingin Kahvilat Oy", "Uudenmaan Henkilöstöpalvelut Oy", "Vantaan Varastopalvelut Oy",
    "Seinäjoen Metalli Oy", "Etelä-Pohjanmaan Maatalouskone Oy", "Pohjolan Kauppa Oy",
    "Suomen Asiakaspalvelu Oy", "Järvi-Suomen Energia Oy", "Kiinteistöhuolto Kuutamo Oy",
    "Ravintola Harju Oy", "Hämeen Sähkötyö Oy", "Koulutuskeskus Salpaus", "Kotihoito Apila Oy",
    "Rautakauppa Nikkari Oy", "Autokorjaamo Sinisalo Oy", "Pakkaus ja Painotuote Oy",
    "Metsäpalvelu Kataja Oy", "IT-tuki Pilvi Oy",
)  # fmt: skip
JOB_TITLES = (
    "varastotyöntekijä", "myyjä", "asiakaspalvelija", "siivooja", "lähihoitaja", "kokki",
    "rakennustyöntekijä", "hitsaaja", "kuorma-autonkuljettaja", "ohjelmistokehittäjä",
    "kirjanpitäjä", "sähköasentaja", "koneistaja", "tarjoilija", "toimistosihteeri",
    "kiinteistönhoitaja", "trukinkuljettaja", "tuotantotyöntekijä", "IT-tukihenkilö",
    "projektityöntekijä",
)  # fmt: skip


SERVICE_TYPES: tuple[tuple[str, float, int, int], ...] = (
    # type, weight, min days, max days
    ("labour_market_training", 0.22, 60, 200),
    ("coaching", 0.22, 30, 90),
    ("work_trial", 0.14, 30, 180),
    ("pay_subsidy", 0.12, 90, 365),
    ("rehabilitative_work_activity", 0.08, 90, 300),
    ("startup_grant", 0.03, 120, 365),
    ("career_guidance", 0.14, 7, 30),
    ("other", 0.05, 14, 90),
)
PROVIDERS = {
    "public": ("Koulutuskeskus Salpaus", "Työllisyyspalvelut", "Kunnan sosiaalipalvelut"),
    "private": ("Valmennuspalvelu Taito Oy", "Uravalmennus Polku Oy", "Rekrytointi Nousu Oy"),
    "third_sector": ("Työpaja Verstas ry", "Nuorten Kipinä ry", "Monitoimikeskus Silta ry"),
}
END_REASONS = (
    ("employed_open_market", 0.44),
    ("employed_subsidised", 0.09),
    ("self_employed", 0.04),
    ("studies", 0.10),
    ("moved_abroad", 0.02),
    ("not_renewed", 0.21),
    ("other", 0.10),
)
REDUCED_GROUNDS = (
    "health reasons assessed in the plan",
    "caring responsibilities",
    "few suitable vacancies in the commuting area",
    "full-time labour market training",
    "rehabilitation need",
)

CORRECTABLE = frozenset(
    {
        EventType.MEETING_HELD,
        EventType.CONTACT_MADE,
        EventType.APPLICATION_REPORTED,
        EventType.EMPLOYMENT_PLAN_AGREED,
        EventType.COACH_ASSIGNED,
        EventType.LABOUR_MARKET_STATUS_CHANGED,
        EventType.MEETING_MISSED,
        EventType.SERVICE_REFERRED,
        EventType.SERVICE_ENDED,
    }
)
RETRACTABLE = frozenset(
    {EventType.APPLICATION_REPORTED, EventType.CONTACT_MADE, EventType.MEETING_HELD}
)
