"""Name and place lists the synthetic population draws from.

Common surnames and given names of England and Wales, towns with their postcode areas, and
street names. They only need to look plausible and to give searches realistic collisions
(many Smiths, a few Pritchards); they are not a statistical sample.
"""

from __future__ import annotations

FAMILY: tuple[str, ...] = (
    "Smith", "Jones", "Williams", "Taylor", "Brown", "Davies", "Evans", "Wilson", "Thomas",
    "Johnson", "Roberts", "Robinson", "Thompson", "Wright", "Walker", "White", "Edwards",
    "Hughes", "Green", "Hall", "Lewis", "Harris", "Clarke", "Patel", "Jackson", "Wood",
    "Turner", "Martin", "Cooper", "Hill", "Ward", "Morris", "Moore", "Clark", "Lee", "King",
    "Baker", "Harrison", "Morgan", "Allen", "James", "Scott", "Phillips", "Watson", "Davis",
    "Parker", "Price", "Bennett", "Young", "Griffiths", "Mitchell", "Kelly", "Cook", "Carter",
    "Richardson", "Bailey", "Collins", "Bell", "Shaw", "Murphy", "Miller", "Cox", "Richards",
    "Khan", "Marshall", "Anderson", "Simpson", "Ellis", "Adams", "Singh", "Begum", "Wilkinson",
    "Foster", "Chapman", "Powell", "Webb", "Rogers", "Gray", "Mason", "Ali", "Hunt", "Hussain",
    "Campbell", "Matthews", "Owen", "Palmer", "Holmes", "Mills", "Barnes", "Knight", "Lloyd",
    "Butler", "Russell", "Barker", "Fisher", "Stevens", "Jenkins", "Murray", "Dixon", "Harvey",
    "Graham", "Pearson", "Ahmed", "Fletcher", "Walsh", "Kaur", "Gibson", "Howard", "Andrews",
    "Stewart", "Elliott", "Reynolds", "Saunders", "Payne", "Fox", "Ford", "Pearce", "Day",
    "Brooks", "West", "Lawrence", "Cole", "Atkinson", "Bradley", "Spencer", "Gill", "Dawson",
    "Ball", "Burton", "O'Brien", "Watts", "Rose", "Booth", "Perry", "Ryan", "Grant", "Wells",
    "Armstrong", "Francis", "Rees", "Hayes", "Hart", "Hudson", "Newman", "Barrett", "Webster",
    "Hunter", "Gregory", "Carr", "Lowe", "Page", "Marsh", "Riley", "Dunn", "Woods", "Parsons",
    "Berry", "Stone", "Reid", "Holland", "Hawkins", "Harding", "Porter", "Robertson", "Newton",
    "Oliver", "Reed", "Kennedy", "Williamson", "Bird", "Gardner", "Shah", "Dean", "Lane",
    "Cooke", "Bates", "Henderson", "Parry", "Burgess", "Bishop", "Walton", "Burns", "Nicholson",
    "Shepherd", "Ross", "Cross", "Long", "Freeman", "Warren", "Nicholls", "Hamilton", "Byrne",
    "Sutton", "McDonald", "Yates", "Hodgson", "Robson", "Curtis", "Hopkins", "O'Connor",
    "Harper", "Coleman", "Watkins", "Moss", "McCarthy", "Chambers", "Pritchard", "Smyth",
    "Smythe", "Schmidt", "Thomson", "Johnston", "Jonas",
)  # fmt: skip

GIVEN_FEMALE: tuple[str, ...] = (
    "Olivia", "Amelia", "Isla", "Ava", "Emily", "Sophie", "Grace", "Mia", "Poppy", "Ella",
    "Lily", "Jessica", "Evie", "Isabella", "Sophia", "Charlotte", "Ruby", "Chloe", "Daisy",
    "Alice", "Margaret", "Susan", "Patricia", "Mary", "Elizabeth", "Sarah", "Helen", "Karen",
    "Julie", "Joanne", "Claire", "Emma", "Rachel", "Louise", "Nicola", "Lisa", "Amanda",
    "Jane", "Anne", "Joan", "Dorothy", "Barbara", "Jean", "Sheila", "Christine", "Fatima",
    "Aisha", "Priya", "Zara", "Hannah",
)  # fmt: skip

GIVEN_MALE: tuple[str, ...] = (
    "Oliver", "George", "Harry", "Noah", "Jack", "Leo", "Arthur", "Oscar", "Charlie", "Jacob",
    "Thomas", "Freddie", "Alfie", "Henry", "William", "James", "Joshua", "Samuel", "Daniel",
    "Mohammed", "John", "David", "Michael", "Paul", "Andrew", "Mark", "Peter", "Richard",
    "Robert", "Stephen", "Christopher", "Ian", "Gary", "Kevin", "Anthony", "Brian", "Kenneth",
    "Ronald", "Dennis", "Colin", "Alan", "Keith", "Graham", "Simon", "Matthew", "Luke",
    "Adam", "Ryan", "Ali", "Arjun",
)  # fmt: skip

# (town, postcode area)
TOWNS: tuple[tuple[str, str], ...] = (
    ("Leeds", "LS"), ("Manchester", "M"), ("Birmingham", "B"), ("Bristol", "BS"),
    ("Sheffield", "S"), ("Newcastle upon Tyne", "NE"), ("Nottingham", "NG"),
    ("Leicester", "LE"), ("Liverpool", "L"), ("Norwich", "NR"), ("Exeter", "EX"),
    ("Plymouth", "PL"), ("York", "YO"), ("Cambridge", "CB"), ("Oxford", "OX"),
    ("Brighton", "BN"), ("Southampton", "SO"), ("Derby", "DE"), ("Coventry", "CV"),
    ("Hull", "HU"), ("Bradford", "BD"), ("Stoke-on-Trent", "ST"), ("Reading", "RG"),
    ("Ipswich", "IP"), ("Lincoln", "LN"), ("Carlisle", "CA"), ("Durham", "DH"),
    ("Preston", "PR"), ("Bolton", "BL"), ("Wakefield", "WF"), ("Canterbury", "CT"),
    ("Guildford", "GU"), ("Bath", "BA"), ("Truro", "TR"), ("Peterborough", "PE"),
    ("Northampton", "NN"), ("Chelmsford", "CM"), ("Luton", "LU"), ("Swindon", "SN"),
    ("Worcester", "WR"),
)  # fmt: skip

STREETS: tuple[str, ...] = (
    "High Street", "Station Road", "Main Street", "Park Road", "Church Road", "Church Street",
    "London Road", "Victoria Road", "Green Lane", "Manor Road", "Church Lane", "Park Avenue",
    "The Avenue", "The Crescent", "Queens Road", "New Road", "Grange Road", "Kings Road",
    "Kingsway", "Windsor Road", "Highfield Road", "Mill Lane", "Alexander Road", "York Road",
    "St John's Road", "Main Road", "Broadway", "King Street", "The Green", "Springfield Road",
)  # fmt: skip

INWARD_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"  # the inward code never uses C I K M O V
