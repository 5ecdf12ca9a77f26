"""Hand-kept word lists the entity rules need, in several languages.

The large gazetteers (countries in every CLDR locale, cities with their alternate names,
given names, stop words) come from installed packages (see ``gazetteer.py``); this module
holds only what no package ships: words that introduce a person's name, words that make a
capitalised phrase an organisation, well-known international organisations with their names
in several languages, and regions that are not ISO countries or big cities.
"""

from __future__ import annotations


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


#: Words (lower case, trailing dot removed) that put a person's name right after them:
#: "Presiden X", "Foreign Minister X", "Bundeskanzler X", "Mme X", "Ministro X" …
TITLE_HEADS: frozenset[str] = _words(
    """
    president president-elect vice-president prime premier minister chancellor king queen prince
    princess senator sen rep representative governor mayor secretary general gen lt colonel
    col captain capt sergeant sgt pope cardinal bishop archbishop rabbi imam sheikh sheik judge
    justice ambassador spokesman spokeswoman spokesperson ceo cfo coo chairman chairwoman
    chairperson director professor prof dr mr mrs ms miss sir dame lord lady coach manager
    striker midfielder defender goalkeeper forward quarterback leader commissioner envoy
    commander admiral lieutenant inspector detective economist analyst journalist reporter
    editor founder co-founder actor actress singer rapper musician filmmaker author novelist
    candidate nominee chief speaker attorney sheriff officer
    presiden wakil perdana menteri gubernur bupati walikota wali ketua juru jubir direktur
    kepala jenderal letnan kolonel kapten brigjen irjen komjen kapolri kapolda kapolres
    panglima raja ratu pangeran paus sekretaris jaksa hakim duta dubes pelatih penyerang
    pemain bapak ibu pak bu saudara sdr syekh ustaz ustadz kiai kh habib kanselir pemimpin
    aktor aktris penyanyi pendiri capres cawapres senator anggota juara petenis pebulu
    präsident präsidentin bundeskanzler bundeskanzlerin kanzler kanzlerin ministerin
    ministerpräsident ministerpräsidentin bürgermeister bürgermeisterin oberbürgermeister
    oberbürgermeisterin landrat landrätin chef chefin vorsitzende vorsitzender sprecher
    sprecherin trainer trainerin papst könig königin prinz prinzessin herr frau abgeordnete
    abgeordneter staatssekretär staatssekretärin botschafter botschafterin richter richterin
    anwalt anwältin autor autorin schauspieler schauspielerin sänger sängerin regisseur
    regisseurin kommissar kommissarin kandidat kandidatin stürmer torhüter geschäftsführer
    geschäftsführerin
    président présidente ministre chancelier chancelière roi reine maire députée député
    sénateur sénatrice porte-parole général m mme monsieur madame docteur pape ambassadeur
    ambassadrice entraîneur directeur directrice patron
    presidente presidenta ministro ministra canciller rey reina alcalde alcaldesa senador
    senadora diputado diputada portavoz don doña señor señora papa embajador embajadora
    entrenador director directora sindaco senatore signor signora allenatore direttore
    segretario prefeito governador deputado rei rainha treinador
    burgemeester koning koningin prezydent premier ministra papież burmistrz poseł posłanka
    statsminister utrikesminister kung drottning statsministeren ministeren
    cumhurbaşkanı başbakan bakan bakanı prezident premiér ministr ministryně
    """
)

#: German and Nordic compounds end in a title ("Außenminister", "US-Präsident",
#: "SPD-Chefin", "utrikesministern"): a token ending in one of these is a title head.
TITLE_SUFFIXES: tuple[str, ...] = (
    "minister",
    "ministerin",
    "präsident",
    "präsidentin",
    "kanzler",
    "kanzlerin",
    "chef",
    "chefin",
    "sprecher",
    "sprecherin",
    "trainer",
    "trainerin",
    "vorsitzende",
    "vorsitzender",
    "bürgermeister",
    "bürgermeisterin",
    "kommissar",
    "kommissarin",
    "ministern",
    "ministeren",
    "-president",
    "-presidente",
    "-ministre",
)

#: Words that may follow a title head before the name ("Menteri Luar Negeri", "Foreign
#: Minister", "Secretary of State", "ministre des Affaires étrangères").
TITLE_WORDS: frozenset[str] = _words(
    """
    prime vice deputy foreign defence defense finance interior home health economy economic
    state trade justice education energy environment labour labor agriculture transport
    affairs general executive chief former acting interim incoming outgoing new senior
    national federal regional party opposition supreme grand first of for the to and
    luar negeri dalam pertahanan keuangan kesehatan pendidikan perdagangan perindustrian
    koordinator bidang politik hukum keamanan perekonomian agama sosial pertanian perhubungan
    umum utama besar bicara kota daerah mantan eks calon wakil presiden menteri ketua
    urusan kabinet luar-negeri dpr mpr dprd partai republik
    der des für außen verteidigung finanzen bundes ehemalige ehemaliger frühere früherer
    neue neuer designierte designierter amtierende amtierender stellvertretende
    stellvertretender
    du de la des affaires étrangères etrangères premier première ancien ancienne
    del exteriores asuntos primer primera exterior degli esteri estero ex
    """
)

#: Words that make a capitalised phrase an organisation, wherever they stand in it.
ORG_HEADS: frozenset[str] = _words(
    """
    party partai partei parti partido partito bank university universitas universität
    université universidad università universidade college institute institut instituto
    ministry kementerian ministerium ministère ministerio ministero council dewan rat conseil
    consejo consiglio commission komisi kommission comisión commissione agency badan agentur
    agence agencia agenzia association asosiasi verband verein associazione asociación
    federation federasi föderation fédération federación federazione foundation stiftung
    yayasan fondation fundación fondazione corporation corp inc ltd llc plc gmbh ag se sa spa
    tbk company group gruppe groupe grupo airlines airways club klub fc cf sv bv
    police polizei kepolisian polisi army tentara armee court pengadilan mahkamah gericht
    tribunal parliament parlemen parlament parlement congress kongres senate senat assembly
    organization organisation organisasi organización league liga ligue forum institute
    school sekolah schule hospital rumah klinik klinikum museum society gesellschaft
    committee komite ausschuss komitee comité network news times post journal zeitung
    tribune gazette herald telegraph guardian radio television televisi fernsehen
    parlamento parlamentu parlamentet office department departemen bureau presidencia
    gobierno gemeinschaft bündnis bündnisses tribunale corte cour associazione syndicat
    sindicato gewerkschaft kommando kommandos
    fortuna eintracht borussia werder arminia dynamo alemannia kickers holstein
    """
)

#: German compounds end in an organisation word ("Landgericht", "Bundesministerium",
#: "US-Europakommando", "Stadtwerke"); a token ending in one (plus a case ending) is one.
ORG_SUFFIXES: tuple[str, ...] = tuple(
    stem + ending
    for stem in (
        "gericht",
        "ministerium",
        "partei",
        "verband",
        "verein",
        "gesellschaft",
        "konzern",
        "kommando",
        "behörde",
        "universität",
        "hochschule",
        "stiftung",
        "bündnis",
        "amt",
        "gemeinschaft",
        "kommission",
        "agentur",
        "institut",
        "versicherung",
        "zeitung",
        "rundfunk",
        "werke",
        "bank",
    )
    # Singular and genitive only: a plural ("Landtagsparteien") names a kind, not one body.
    for ending in ("", "s", "es")
)

#: The suffixes that make even a lone compound an organisation ("Landgericht",
#: "Bundesministerium"); "Konsumgesellschaft" or "Datenbank" are ordinary nouns.
SINGLE_WORD_ORG_STEMS: tuple[str, ...] = (
    "gericht",
    "ministerium",
    "kommando",
    "behörde",
    "hochschule",
    "universität",
    "partei",
    "stiftung",
)
SINGLE_WORD_ORG_SUFFIXES: tuple[str, ...] = tuple(
    stem + ending for stem in SINGLE_WORD_ORG_STEMS for ending in ("", "s", "es")
)

#: Conjunctions join two names ("John and Donald Parkinson", "Roma e Lazio"); a person's
#: name never holds one, an organisation's may ("Department of Climate Change and Energy").
CONJUNCTIONS = _words("and und et e y dan och og en i oraz ve")

NOT_ORG_ACRONYMS = _words(
    """
    AI KI IA GDP BIP PIB CEO CFO COO CTO TV PC SUV EV DNA DNS HIV AIDS COVID SARS SMS MMS
    LTE GB MB KB TB USB PDF UV PR IT VR AR NFT ETF USD EUR GBP JPY CHF IDR RP WIB WITA WIT
    CET CEST UTC GMT AM PM FAQ ID OK KM KG CO2 PKW LKW DIY HR VAT MWST PS NR BBQ GPS API
    APP ATM ICU ER MRI CT PCR LGBT LGBTQ LGBTQIA MP MEP MS MD RD RN PHD MBA BA BSC MSC
    DBA RDN CPT PT CV XL XXL II III IV VI VII VIII IX XI XII XIII XIV XV XVI XVII XVIII XIX
    XX XXI GP F1 NBA NFL NHL MLB WC OMG LOL CSS HTML HTTP HTTPS URL WWW IP IOT SEO CRM ERP
    SAAS OS IOS PS5 HD UHD OLED LED LCD USA UK US EU UN AS RI NKRI USS HMS BC AD CE BCE
    WM EM OB CEO OP ICE ÖPNV VIP VIPS NGO NGOS AKW
    QR ESG CBD THC BMI BPM RPM MPH KMH TNT LNG LPG OPEC
    """
)

#: Words right before a capitalised phrase that name it as a broadcaster, paper or company:
#: "saluran TV France 2", "the broadcaster ZDF", "der Sender Arte", "la chaîne TF1".
ORG_CUES: frozenset[str] = _words(
    """
    tv saluran stasiun televisi channel broadcaster network newspaper tabloid daily outlet
    harian koran majalah media kantor berita agency sender zeitung sendung chaîne journal
    quotidien canal cadena diario periódico emittente quotidiano jornal firma perusahaan
    company unternehmen konzern société empresa azienda platform plattform plateforme
    plataforma piattaforma brand marke marque marca merek label app dienst service
    """
)

#: Words for an administrative unit that open a place's name ("Kabupaten Bogor", "Kota
#: Bandung", "Landkreis Harburg"): the words after them name a place.
PLACE_UNITS_BEFORE: frozenset[str] = _words(
    "kabupaten kota kecamatan desa kelurahan provinsi landkreis"
)

#: Words for an administrative unit right after a place's name: capitalised English ones
#: belong to the name ("Orange County"), lower-case ones follow it ("Uddevalla kommun").
PLACE_UNITS_AFTER: frozenset[str] = _words("county regency province kommun kommune gmina powiat")

#: Beginnings of the inflected Turkish unit words (folded): "Bornova ilçesinde", "Beşyol
#: Mahallesi", "Alaca köyünde".
TURKISH_PLACE_UNITS: tuple[str, ...] = ("ilce", "mahalle", "belde", "koyu")

#: Prepositions that put a place after them ("i Uddevalla", "in Merksem"), by language: a
#: town too small or too ambiguous for the gazetteer alone counts as a place only after
#: one of these. Only "in"/"at" senses: "from", "aus", "da" introduce sources and
#: materials as often as places.
LOCATIVE_PREPOSITIONS: dict[str, frozenset[str]] = {
    "en": _words("in near"),
    "de": _words("in bei"),
    "fr": _words("à"),
    "es": _words("en"),
    "it": _words("a"),
    "pt": _words("em"),
    "nl": _words("in"),
    "sv": _words("i"),
    "nb": _words("i"),
    "no": _words("i"),
    "da": _words("i"),
    "pl": _words("w"),
    "cs": _words("v"),
    "id": _words("di"),
    "ms": _words("di"),
}

#: Turkish genitive endings: "İzmir'in Bornova" is the district Bornova of İzmir province.
TURKISH_GENITIVES: tuple[str, ...] = ("'in", "'ın", "'un", "'ün", "'nin", "'nın", "'nun", "'nün")

#: Roles held in an organisation: the capitalised name after "<role> of/du/de la/der" is
#: the organisation ("president du Medef", "founder of Foodtrainers", "portavoz de Vox").
ORG_ROLES: frozenset[str] = _words(
    """
    founder co-founder cofounder owner chairman chairwoman ceo spokesman spokeswoman
    spokesperson fondateur fondatrice cofondateur président présidente porte-parole patron
    patronne fundador fundadora presidente presidenta portavoz dueño dueña fondatore
    portavoce titolare gründer gründerin sprecher sprecherin vorsitzender vorsitzende chef
    chefin oprichter voorzitter woordvoerder grundare ordförande talesperson pendiri ketua
    direktur
    """
)

#: Words between such a role and the organisation's name.
ROLE_LINKS: frozenset[str] = _words("of du des de del della dello dell di der van at bei")
#: Articles that may stand between the link and the name ("of the", "de la").
ROLE_ARTICLES: frozenset[str] = _words("the la le el los las il lo")

#: Lower-case particles allowed inside a name or organisation ("Ursula von der Leyen",
#: "Bank of England", "Charles de Gaulle", "Mohammed bin Salman").
NAME_PARTICLES: frozenset[str] = _words(
    """
    von van der den de del della di da dos das du la le al el bin binti ibn bint of
    for and the y e zu ten ter
    """
)

#: Particles that are ordinary words in some languages (Indonesian "di" = "in").
NOT_PARTICLES: dict[str, frozenset[str]] = {
    "id": frozenset({"di", "da", "dan", "la", "le", "e", "y"}),
    "ms": frozenset({"di", "da", "dan", "la", "le", "e", "y"}),
    "en": frozenset({"di", "da", "e", "y", "zu", "la", "le"}),
    "de": frozenset({"das", "e", "y"}),  # German "das" is an article
    "it": frozenset({"e"}),
    "pt": frozenset({"e"}),
    "es": frozenset({"e"}),
}

#: Well-known organisations: canonical English name → names and acronyms in several
#: languages. Babel's territory names add "EU" and "UN" in every CLDR locale on top of this.
ORGANISATIONS: dict[str, tuple[str, ...]] = {
    "European Union": (
        "EU",
        "UE",
        "Uni Eropa",
        "Europäische Union",
        "Union européenne",
        "Unión Europea",
        "Unione europea",
        "Europese Unie",
        "Unia Europejska",
        "Avrupa Birliği",
        "Evropská unie",
        "Europeiska unionen",
        "Kesatuan Eropah",
    ),
    "United Nations": (
        "UN",
        "U.N.",
        "U.N",
        "ONU",
        "PBB",
        "Perserikatan Bangsa-Bangsa",
        "Vereinte Nationen",
        "Nations unies",
        "Naciones Unidas",
        "Nazioni Unite",
        "Verenigde Naties",
        "Birleşmiş Milletler",
        "Förenta nationerna",
        "OSN",
        "ONZ",
        "BM",
    ),
    "UN Security Council": (
        "UN Security Council",
        "Security Council",
        "Dewan Keamanan PBB",
        "DK PBB",
        "UN-Sicherheitsrat",
        "Sicherheitsrat",
        "Conseil de sécurité",
        "Consejo de Seguridad",
    ),
    "NATO": (
        "NATO",
        "OTAN",
        "Nato",
        "North Atlantic Treaty Organization",
        "Pakta Pertahanan Atlantik Utara",
    ),
    "ASEAN": (
        "ASEAN",
        "Association of Southeast Asian Nations",
        "Perhimpunan Bangsa-Bangsa Asia Tenggara",
    ),
    "African Union": (
        "African Union",
        "Uni Afrika",
        "Afrikanische Union",
        "Union africaine",
        "Unión Africana",
    ),
    "World Health Organization": (
        "WHO",
        "World Health Organization",
        "Organisasi Kesehatan Dunia",
        "Weltgesundheitsorganisation",
        "OMS",
        "Organisation mondiale de la santé",
        "Organización Mundial de la Salud",
    ),
    "International Monetary Fund": (
        "IMF",
        "International Monetary Fund",
        "Dana Moneter Internasional",
        "Internationaler Währungsfonds",
        "IWF",
        "FMI",
        "Fonds monétaire international",
        "Fondo Monetario Internacional",
    ),
    "World Bank": (
        "World Bank",
        "Bank Dunia",
        "Weltbank",
        "Banque mondiale",
        "Banco Mundial",
        "Banca Mondiale",
    ),
    "World Trade Organization": (
        "WTO",
        "World Trade Organization",
        "Organisasi Perdagangan Dunia",
        "Welthandelsorganisation",
        "OMC",
    ),
    "OPEC": ("OPEC", "OPEP", "Organization of the Petroleum Exporting Countries"),
    "G7": ("G7", "G-7", "Group of Seven"),
    "G20": ("G20", "G-20", "Group of Twenty"),
    "BRICS": ("BRICS",),
    "European Commission": (
        "European Commission",
        "Komisi Eropa",
        "EU-Kommission",
        "Europäische Kommission",
        "Commission européenne",
        "Comisión Europea",
        "Commissione europea",
    ),
    "European Parliament": (
        "European Parliament",
        "Parlemen Eropa",
        "Europäisches Parlament",
        "EU-Parlament",
        "Europaparlament",
        "Parlement européen",
        "Parlamento Europeo",
    ),
    "European Central Bank": (
        "European Central Bank",
        "ECB",
        "EZB",
        "BCE",
        "Europäische Zentralbank",
        "Bank Sentral Eropa",
        "Banque centrale européenne",
        "Banco Central Europeo",
    ),
    "Council of Europe": ("Council of Europe", "Europarat", "Conseil de l'Europe", "Dewan Eropa"),
    "OSCE": ("OSCE", "OSZE", "OBSE", "Organization for Security and Co-operation in Europe"),
    "Collective Security Treaty Organization": (
        "CSTO",
        "ODKB",
        "OTSC",
        "Collective Security Treaty Organization",
        "Organisasi Perjanjian Keamanan Kolektif",
    ),
    "Eurasian Economic Union": (
        "Eurasian Economic Union",
        "EAEU",
        "Uni Ekonomi Eurasia",
        "Eurasische Wirtschaftsunion",
    ),
    "Valdai Discussion Club": (
        "Valdai Discussion Club",
        "Valdai Club",
        "Valdai International Discussion Club",
        "Klub Diskusi Valdai",
        "Klub Diskusi Internasional Valdai",
        "Waldai-Klub",
        "Valdai-Klub",
        "Club Valdaï",
    ),
    "World Economic Forum": (
        "World Economic Forum",
        "WEF",
        "Forum Ekonomi Dunia",
        "Weltwirtschaftsforum",
    ),
    "International Criminal Court": (
        "International Criminal Court",
        "ICC",
        "Mahkamah Pidana Internasional",
        "Internationaler Strafgerichtshof",
        "IStGH",
        "CPI",
        "Cour pénale internationale",
    ),
    "International Court of Justice": (
        "International Court of Justice",
        "ICJ",
        "Mahkamah Internasional",
        "Internationaler Gerichtshof",
        "IGH",
        "Cour internationale de justice",
    ),
    "Red Cross": (
        "Red Cross",
        "ICRC",
        "Palang Merah",
        "Palang Merah Indonesia",
        "PMI",
        "Rotes Kreuz",
        "Croix-Rouge",
        "Cruz Roja",
        "Croce Rossa",
    ),
    "UNICEF": ("UNICEF",),
    "UNESCO": ("UNESCO",),
    "UNHCR": ("UNHCR",),
    "Amnesty International": ("Amnesty International", "Amnesty"),
    "Human Rights Watch": ("Human Rights Watch", "HRW"),
    "Interpol": ("Interpol",),
    "Europol": ("Europol",),
    "FIFA": ("FIFA",),
    "UEFA": ("UEFA",),
    "International Olympic Committee": (
        "International Olympic Committee",
        "IOC",
        "IOK",
        "CIO",
        "Internationales Olympisches Komitee",
        "Komite Olimpiade Internasional",
    ),
    "Hamas": ("Hamas",),
    "Hezbollah": ("Hezbollah", "Hizbullah", "Hisbollah", "Hizbollah"),
    "Taliban": ("Taliban", "Taliban"),
    "Islamic State": (
        "Islamic State",
        "ISIS",
        "ISIL",
        "Daesh",
        "Negara Islam",
        "Islamischer Staat",
        "IS",
    ),
    "Federal Reserve": ("Federal Reserve", "Fed", "The Fed", "Bank Sentral AS", "US-Notenbank"),
    "Bundestag": ("Bundestag",),
    "Bundesrat": ("Bundesrat",),
    "Bundeswehr": ("Bundeswehr",),
    "Kremlin": ("Kremlin", "Kreml", "Kremlin"),
    "White House": (
        "White House",
        "Gedung Putih",
        "Weißes Haus",
        "Maison Blanche",
        "Casa Blanca",
        "Casa Bianca",
    ),
    "Pentagon": ("Pentagon",),
    "CIA": ("CIA",),
    "FBI": ("FBI",),
    "KGB": ("KGB",),
    "FSB": ("FSB",),
    "Mossad": ("Mossad",),
    "Reuters": ("Reuters",),
    "Associated Press": ("Associated Press", "AP"),
    "Agence France-Presse": ("Agence France-Presse", "AFP"),
    "Deutsche Presse-Agentur": ("Deutsche Presse-Agentur", "dpa", "DPA"),
    "Antara": ("Antara", "LKBN Antara", "Kantor Berita Antara"),
    "Bloomberg": ("Bloomberg",),
    "BBC": ("BBC",),
    "CNN": ("CNN",),
    "Al Jazeera": ("Al Jazeera", "Al-Jazeera"),
    "ARD": ("ARD",),
    "ZDF": ("ZDF",),
    "ORF": ("ORF",),
    "SPD": ("SPD",),
    "CDU": ("CDU",),
    "CSU": ("CSU",),
    "FDP": ("FDP",),
    "AfD": ("AfD",),
    "ÖVP": ("ÖVP",),
    "FPÖ": ("FPÖ",),
    "Greens": ("Die Grünen", "Grüne", "Bündnis 90/Die Grünen"),
    "Democratic Party": ("Democratic Party", "Democrats", "Partai Demokrat AS"),
    "Republican Party": ("Republican Party", "Republicans", "GOP", "Partai Republik"),
    "Conservative Party": ("Conservative Party", "Conservatives", "Tories", "Tory"),
    "Labour Party": ("Labour Party", "Labour"),
    "Downing Street": ("Downing Street", "Number 10", "No 10"),
    "Red Bull": ("Red Bull",),
    "Google": ("Google",),
    "Apple": ("Apple",),
    "Microsoft": ("Microsoft",),
    "Amazon": ("Amazon",),
    "Meta": ("Meta", "Meta Platforms"),
    "Facebook": ("Facebook",),
    "Instagram": ("Instagram",),
    "TikTok": ("TikTok",),
    "X (Twitter)": ("Twitter",),
    "YouTube": ("YouTube",),
    "OpenAI": ("OpenAI",),
    "Tesla": ("Tesla",),
    "Netflix": ("Netflix",),
    "Samsung": ("Samsung",),
    "Volkswagen": ("Volkswagen", "VW"),
    "Siemens": ("Siemens",),
    "Deutsche Bahn": ("Deutsche Bahn",),
    "Pertamina": ("Pertamina",),
    "KPK": ("KPK", "Komisi Pemberantasan Korupsi"),
    "DPR": ("DPR", "Dewan Perwakilan Rakyat"),
    "TNI": ("TNI", "Tentara Nasional Indonesia"),
    "Polri": ("Polri", "Kepolisian Negara Republik Indonesia"),
}

#: Places that are neither ISO countries nor in the city gazetteer: disputed and historical
#: regions, islands and areas that news keeps naming. Canonical name → (ISO code, aliases).
REGIONS: dict[str, tuple[str, tuple[str, ...]]] = {
    "Nagorno-Karabakh": (
        "AZ",
        (
            "Nagorno-Karabakh",
            "Nagorno Karabakh",
            "Berg-Karabach",
            "Bergkarabach",
            "Haut-Karabakh",
            "Alto Karabaj",
            "Karabakh",
            "Karabach",
            "Karabagh",
            "Artsakh",
            "Karabağ",
        ),
    ),
    "Crimea": ("UA", ("Crimea", "Krim", "Krimea", "Crimée", "Crimean", "Krym", "Kırım")),
    "Donbas": ("UA", ("Donbas", "Donbass", "Donbass-Region")),
    "Gaza Strip": (
        "PS",
        (
            "Gaza",
            "Gaza Strip",
            "Jalur Gaza",
            "Gazastreifen",
            "Bande de Gaza",
            "Franja de Gaza",
            "Striscia di Gaza",
        ),
    ),
    "West Bank": (
        "PS",
        ("West Bank", "Tepi Barat", "Westjordanland", "Cisjordanie", "Cisjordania"),
    ),
    "Kashmir": ("IN", ("Kashmir", "Kashmir", "Kaschmir", "Cachemire", "Cachemira")),
    "Tibet": ("CN", ("Tibet", "Tíbet")),
    "Xinjiang": ("CN", ("Xinjiang",)),
    "Kurdistan": ("IQ", ("Kurdistan", "Kurdistán")),
    "Darfur": ("SD", ("Darfur",)),
    "Papua": ("ID", ("Papua",)),
    "Bali": ("ID", ("Bali",)),
    "Java": ("ID", ("Java", "Jawa")),
    "Sumatra": ("ID", ("Sumatra", "Sumatera")),
    "Borneo": ("ID", ("Borneo", "Kalimantan")),
    "Sulawesi": ("ID", ("Sulawesi",)),
    "Bavaria": ("DE", ("Bavaria", "Bayern")),
    "Saxony": ("DE", ("Saxony", "Sachsen")),
    "Thuringia": ("DE", ("Thuringia", "Thüringen")),
    "Brandenburg": ("DE", ("Brandenburg",)),
    "Hesse": ("DE", ("Hesse", "Hessen")),
    "Baden-Württemberg": ("DE", ("Baden-Württemberg",)),
    "North Rhine-Westphalia": ("DE", ("North Rhine-Westphalia", "Nordrhein-Westfalen", "NRW")),
    "Lower Saxony": ("DE", ("Lower Saxony", "Niedersachsen")),
    "Schleswig-Holstein": ("DE", ("Schleswig-Holstein",)),
    "Rhineland-Palatinate": ("DE", ("Rhineland-Palatinate", "Rheinland-Pfalz")),
    "Mecklenburg-Vorpommern": ("DE", ("Mecklenburg-Vorpommern",)),
    "Saxony-Anhalt": ("DE", ("Saxony-Anhalt", "Sachsen-Anhalt")),
    "Tyrol": ("AT", ("Tyrol", "Tirol")),
    "Styria": ("AT", ("Styria", "Steiermark")),
    "Carinthia": ("AT", ("Carinthia", "Kärnten")),
    "Upper Austria": ("AT", ("Upper Austria", "Oberösterreich")),
    "Lower Austria": ("AT", ("Lower Austria", "Niederösterreich")),
    "Vorarlberg": ("AT", ("Vorarlberg",)),
    "Catalonia": ("ES", ("Catalonia", "Cataluña", "Catalunya", "Katalonien", "Catalogne")),
    "Andalusia": ("ES", ("Andalusia", "Andalucía", "Andalusien")),
    "Basque Country": ("ES", ("Basque Country", "País Vasco", "Baskenland")),
    "Scotland": ("GB", ("Scotland", "Schottland", "Skotlandia", "Écosse", "Escocia", "Scozia")),
    "Wales": ("GB", ("Wales",)),
    "England": ("GB", ("England", "Inggris", "Angleterre", "Inglaterra", "Inghilterra")),
    "Northern Ireland": ("GB", ("Northern Ireland", "Nordirland", "Irlandia Utara")),
    "California": ("US", ("California", "Kalifornien", "Californie")),
    "Texas": ("US", ("Texas",)),
    "Florida": ("US", ("Florida", "Floride")),
    "Ontario": ("CA", ("Ontario",)),
    "Quebec": ("CA", ("Quebec", "Québec")),
    "Siberia": ("RU", ("Siberia", "Sibirien", "Sibérie")),
    "Chechnya": ("RU", ("Chechnya", "Tschetschenien", "Chechnya", "Chechnia", "Tchétchénie")),
    "Taiwan Strait": ("TW", ("Taiwan Strait", "Selat Taiwan", "Taiwanstraße")),
    "South China Sea": ("CN", ("South China Sea", "Laut China Selatan", "Südchinesisches Meer")),
    "Middle East": (
        "",
        (
            "Middle East",
            "Timur Tengah",
            "Nahost",
            "Naher Osten",
            "Nahen Osten",
            "Mittleren Osten",
            "Moyen-Orient",
            "Oriente Medio",
            "Medio Oriente",
        ),
    ),
    "Europe": ("", ("Europe", "Eropa", "Europa", "Avrupa")),
    "Atlantic Ocean": (
        "",
        (
            "Atlantic",
            "Atlantic Ocean",
            "North Atlantic",
            "South Atlantic",
            "Atlantik",
            "Nordatlantik",
            "Atlantique",
            "Atlantique Nord",
            "Atlantique Nord-Est",
            "Atlántico",
            "Atlantico",
            "Samudra Atlantik",
        ),
    ),
    "Pacific Ocean": (
        "",
        (
            "Pacific",
            "Pacific Ocean",
            "Pazifik",
            "Pacifique",
            "Pacífico",
            "Pacifico",
            "Samudra Pasifik",
        ),
    ),
    "Indian Ocean": (
        "",
        ("Indian Ocean", "Indischer Ozean", "Indischen Ozean", "océan Indien", "Samudra Hindia"),
    ),
    "Arctic": ("", ("Arctic", "Arktis", "Arctique", "Ártico", "Artico", "Arktik")),
    "Mediterranean Sea": (
        "",
        (
            "Mediterranean",
            "Mediterranean Sea",
            "Mittelmeer",
            "Méditerranée",
            "Mediterráneo",
            "Mediterraneo",
            "Laut Tengah",
        ),
    ),
    "Baltic Sea": (
        "",
        (
            "Baltic Sea",
            "Ostsee",
            "mer Baltique",
            "Mar Báltico",
            "Mar Baltico",
            "Laut Baltik",
            "Östersjön",
            "Bałtyk",
        ),
    ),
    "North Sea": ("", ("North Sea", "Nordsee", "mer du Nord", "Mar del Norte", "Laut Utara")),
    "Black Sea": (
        "",
        (
            "Black Sea",
            "Schwarzes Meer",
            "Schwarzen Meer",
            "mer Noire",
            "Mar Negro",
            "Mar Nero",
            "Laut Hitam",
            "Karadeniz",
        ),
    ),
    "Red Sea": (
        "",
        ("Red Sea", "Rotes Meer", "Roten Meer", "mer Rouge", "Mar Rojo", "Mar Rosso", "Laut Merah"),
    ),
    "Caspian Sea": (
        "",
        ("Caspian Sea", "Kaspisches Meer", "Kaspischen Meer", "mer Caspienne", "Laut Kaspia"),
    ),
    "Persian Gulf": (
        "",
        ("Persian Gulf", "Persischer Golf", "Persischen Golf", "golfe Persique", "Teluk Persia"),
    ),
    "English Channel": ("", ("English Channel", "Ärmelkanal", "la Manche")),
    "Africa": ("", ("Africa", "Afrika", "Afrique", "África")),
    "Asia": ("", ("Asia", "Asien", "Asie")),
    "Latin America": (
        "",
        ("Latin America", "Amerika Latin", "Lateinamerika", "Amérique latine", "América Latina"),
    ),
    "Southeast Asia": ("", ("Southeast Asia", "Asia Tenggara", "Südostasien", "Asie du Sud-Est")),
}

#: Subdivision names that are ordinary words too ("Nord" is a French département and the
#: "curva Nord" of a stadium); they are left out of the gazetteer.
GENERIC_PLACE_WORDS = _words(
    """
    nord sud est ouest north south east west norte sur oeste este centre center central centro
    capital capitale littoral coast costa islands îles inseln lakes mountains plateau valley
    mitte zentrum süd ost nordwest südwest nordost südost east-end midlands
    """
)

#: Country names news uses besides the CLDR ones; each entry is (alias, ISO code, languages
#: where it is safe — empty means every language). "AS" is Indonesian for the United States
#: but an ordinary word elsewhere.
COUNTRY_ALIASES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("U.S.", "US", ()),
    ("U.S", "US", ()),
    ("US", "US", ("en", "de", "nl", "sv", "no", "nb", "da")),
    ("USA", "US", ()),
    ("America", "US", ("en",)),
    ("Amerika", "US", ("id", "ms", "de")),
    ("AS", "US", ("id", "ms")),
    ("Amerika Serikat", "US", ()),
    ("Amerika Syarikat", "US", ()),
    ("U.K.", "GB", ()),
    ("U.K", "GB", ()),
    ("UK", "GB", ()),
    ("Britain", "GB", ()),
    ("Great Britain", "GB", ()),
    ("Großbritannien", "GB", ()),
    ("Inggris", "GB", ("id", "ms")),
    ("Grande-Bretagne", "GB", ()),
    ("Holland", "NL", ()),
    ("Russland", "RU", ()),
    ("Korea Selatan", "KR", ()),
    ("Korea Utara", "KP", ()),
    ("Südkorea", "KR", ()),
    ("Nordkorea", "KP", ()),
    ("South Korea", "KR", ()),
    ("North Korea", "KP", ()),
    ("Tiongkok", "CN", ()),
    ("Cina", "CN", ()),
    ("RRC", "CN", ("id", "ms")),
    ("Czech Republic", "CZ", ()),
    ("Tschechien", "CZ", ()),
    ("Turkey", "TR", ()),
    ("Türkei", "TR", ()),
    ("Turki", "TR", ()),
    ("Ivory Coast", "CI", ()),
    ("Burma", "MM", ()),
    ("Persia", "IR", ()),
    ("Vatican", "VA", ()),
    ("Palestine", "PS", ()),
    ("Palestina", "PS", ()),
    ("Palästina", "PS", ()),
    ("Ukraina", "UA", ()),
    ("Emirates", "AE", ()),
    ("UAE", "AE", ()),
    ("VAE", "AE", ()),
    ("Uni Emirat Arab", "AE", ()),
    ("Saudi", "SA", ()),
    ("Arab Saudi", "SA", ()),
    ("Saudi-Arabien", "SA", ()),
    ("Hong Kong", "HK", ()),
    ("Macau", "MO", ()),
    ("Taiwan", "TW", ()),
    ("Kosovo", "XK", ()),
    ("Timor Leste", "TL", ()),
    # German case endings of multi-word country names ("in den Vereinigten Staaten").
    ("Vereinigten Staaten", "US", ()),
    ("Vereinigten Arabischen Emirate", "AE", ()),
    ("Vereinigten Arabischen Emiraten", "AE", ()),
    ("Vereinigten Königreich", "GB", ()),
    ("Vereinigten Königreichs", "GB", ()),
    ("RFN", "DE", ("pl",)),
    ("BRD", "DE", ("de",)),
)
