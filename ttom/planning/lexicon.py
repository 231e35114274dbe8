"""A small hand-written English lexicon for reading compositional video prompts offline.

No NLP model is downloaded: the offline planner, the validator and the scene abstraction read
prompts with these word lists and the shallow grammar in ``ttom/agents/parse.py``. The lists
are general (common concrete nouns, colours, verbs of motion), not taken from any benchmark;
a word missing here still parses when a determiner or a count introduces it.
"""

from __future__ import annotations

import re

# --- counts ---------------------------------------------------------------------------------
NUMBER_WORDS: dict[str, int] = {
    "a": 1, "an": 1, "one": 1, "single": 1, "lone": 1, "two": 2, "three": 3, "four": 4, "five": 5,
    "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
    "both": 2, "twin": 2, "several": 3, "few": 3, "some": 2, "many": 4, "multiple": 3,
}
# Quantity phrases that end in "of": "a pair of", "a couple of", "a group of" ... -> count.
# None = "more than one, unspecified" (a bare plural).
QUANTITY_PHRASES: dict[str, int | None] = {
    "a pair of": 2, "a couple of": 2, "a few": 3, "a group of": 3, "a herd of": 3, "a flock of": 3,
    "a pack of": 3, "a school of": 3, "a swarm of": 4, "a crowd of": 4, "a bunch of": 3,
    "a row of": 3, "a line of": 3, "a team of": 3, "a family of": 3, "a set of": 3, "a stack of": 3,
    "a pile of": 3, "lots of": 4, "a lot of": 4, "dozens of": 6, "a dozen": 12, "pairs of": 2,
}
POSSESSIVES = {"its", "his", "her", "their", "my", "your", "our"}
# Adjectives ending in -ly ("a lively cat").
ADJECTIVES_LY = {"lively", "friendly", "lovely", "curly", "silly", "ugly", "elderly", "holy", "jolly",
                 "chilly", "bubbly", "sparkly", "wobbly", "cuddly", "lonely", "lowly", "prickly", "woolly",
                 "wooly", "early", "daily", "smelly", "oily", "frilly", "hilly", "burly", "surly"}
SINGULAR_DETERMINERS = {"the", "this", "that", "its", "his", "her", "their", "my", "your", "our", "another"}
PLURAL_DETERMINERS = {"these", "those", "some", "several", "many", "multiple", "few"}

# Nouns that are plural in form but name one thing ("a pair of sunglasses" is one object).
PLURALIA_TANTUM = {
    "sunglasses", "glasses", "goggles", "scissors", "pants", "jeans", "trousers", "shorts", "binoculars",
    "headphones", "earphones", "pliers", "tongs", "pajamas", "overalls", "tweezers", "clothes",
}

IRREGULAR_PLURALS: dict[str, str] = {
    "people": "person", "children": "child", "men": "man", "women": "woman", "mice": "mouse",
    "geese": "goose", "feet": "foot", "teeth": "tooth", "oxen": "ox", "dice": "die", "cacti": "cactus",
    "fungi": "fungus", "octopi": "octopus", "leaves": "leaf", "knives": "knife", "wolves": "wolf",
    "shelves": "shelf", "loaves": "loaf", "calves": "calf", "halves": "half", "elves": "elf",
    "scarves": "scarf", "thieves": "thief", "wives": "wife", "lives": "life", "buses": "bus",
    "gases": "gas", "lenses": "lens", "canoes": "canoe", "shoes": "shoe", "oboes": "oboe",
    "horseshoes": "horseshoe", "toes": "toe", "hoes": "hoe", "tiptoes": "tiptoe", "ladies": "lady",
    "puppies": "puppy", "policemen": "policeman", "firemen": "fireman", "fishermen": "fisherman",
    "snowmen": "snowman", "businessmen": "businessman", "grandchildren": "grandchild",
}
# Same form in singular and plural.
INVARIANT_NOUNS = {
    "sheep", "fish", "deer", "moose", "bison", "salmon", "trout", "shrimp", "squid", "aircraft",
    "spacecraft", "series", "species", "swiss", "elk", "buffalo", "offspring", "cattle",
}
# Words ending in -s that are singular.
SINGULAR_S = {
    "bus", "glass", "grass", "cactus", "octopus", "platypus", "hippopotamus", "walrus", "iris", "lotus",
    "compass", "dress", "mattress", "princess", "actress", "waitress", "goddess", "canvas", "circus",
    "bonus", "virus", "campus", "census", "chess", "moss", "cross", "boss", "bass", "lens", "gas",
    "asparagus", "hibiscus", "citrus", "news", "status", "atlas", "tennis", "chassis", "fungus",
    "harness", "fortress", "albatross", "ibis", "mantis", "tortoise", "rhinoceros",
    "pegasus", "christmas", "this", "yes", "plus", "bias", "always", "perhaps", "sometimes",
    "across", "towards", "upwards", "downwards", "leftwards", "rightwards", "backwards", "forwards",
}


def singularize(word: str) -> str:
    """The singular of an English noun ("dogs" -> "dog", "children" -> "child", "boxes" -> "box")."""
    w = word.lower()
    if w in IRREGULAR_PLURALS:
        return IRREGULAR_PLURALS[w]
    if w in INVARIANT_NOUNS or w in PLURALIA_TANTUM or w in SINGULAR_S or len(w) <= 3:
        return w
    if w.endswith("ies") and len(w) > 4:
        return w[:-3] + "y"
    if w.endswith("ves") and w[:-3] + "f" in NOUNS:
        return w[:-3] + "f"
    if w.endswith("ves") and w[:-3] + "fe" in NOUNS:
        return w[:-3] + "fe"
    if w.endswith(("ches", "shes", "sses", "xes", "zzes")):
        return w[:-2]
    if w.endswith("oes") and w[:-2] in NOUNS:
        return w[:-2]
    if w.endswith("s") and not w.endswith(("ss", "us")):
        return w[:-1]
    return w


def is_plural(word: str) -> bool:
    """Whether a noun is in plural form (pluralia tantum and invariant nouns count as singular)."""
    w = word.lower()
    if w in IRREGULAR_PLURALS:
        return True
    if w in INVARIANT_NOUNS or w in PLURALIA_TANTUM:
        return False
    return singularize(w) != w


def pluralize(word: str) -> str:
    """The plural of a singular noun, for writing phrases ("dog" -> "dogs")."""
    w = word
    inverse = {v: k for k, v in IRREGULAR_PLURALS.items()}
    if w in inverse:
        return inverse[w]
    if w in INVARIANT_NOUNS or w in PLURALIA_TANTUM:
        return w
    if w.endswith("y") and len(w) > 2 and w[-2] not in "aeiou":
        return w[:-1] + "ies"
    if w.endswith(("s", "x", "z", "ch", "sh")):
        return w + "es"
    return w + "s"


# --- adjectives -----------------------------------------------------------------------------
COLOURS = {
    "red", "orange", "yellow", "green", "blue", "purple", "violet", "pink", "brown", "black", "white",
    "gray", "grey", "golden", "gold", "silver", "beige", "cyan", "magenta", "turquoise", "teal",
    "navy", "maroon", "crimson", "scarlet", "ivory", "tan", "bronze", "copper", "lavender", "indigo",
    "emerald", "amber", "khaki", "olive", "coral", "rainbow-colored", "colorful", "colourful",
}
SIZE_WORDS: dict[str, float] = {
    # multiplier on the default box side
    "tiny": 0.6, "small": 0.75, "little": 0.75, "miniature": 0.6, "mini": 0.7, "baby": 0.8,
    "large": 1.3, "big": 1.3, "huge": 1.5, "giant": 1.6, "enormous": 1.6, "massive": 1.5,
    "tall": 1.2, "long": 1.15, "short": 0.85, "gigantic": 1.6, "towering": 1.4,
}
MATERIALS = {
    "wooden", "wood", "metal", "metallic", "steel", "iron", "glass", "plastic", "paper", "stone",
    "ceramic", "leather", "rubber", "cotton", "wool", "woolen", "silk", "velvet", "marble", "brick",
    "concrete", "clay", "porcelain", "crystal", "fabric", "denim", "bamboo", "straw", "wicker",
    "cardboard", "furry", "fluffy", "shiny", "glossy", "transparent", "fur",
}

# --- nouns ----------------------------------------------------------------------------------
# Concrete, visible things that become layout objects.
_NOUN_TEXT = """
person man woman boy girl child kid baby toddler teenager adult lady gentleman elder grandma grandpa
student teacher doctor nurse chef cook farmer soldier police policeman firefighter fireman pilot
astronaut sailor fisherman photographer painter artist musician singer dancer player athlete runner
jogger swimmer surfer skier skater skateboarder cyclist rider driver worker builder scientist
king queen prince princess knight wizard witch pirate ninja robot cyborg alien monster ghost zombie
clown mermaid fairy angel snowman scarecrow mannequin statue sculpture doll puppet figure
dog puppy cat kitten kitty horse pony foal cow calf bull ox pig piglet sheep lamb goat chicken hen
rooster chick duck duckling goose swan turkey rabbit bunny hare mouse rat hamster squirrel chipmunk
raccoon fox wolf bear cub panda koala kangaroo monkey ape gorilla chimpanzee orangutan lion lioness
tiger leopard cheetah jaguar panther lynx elephant giraffe zebra rhino rhinoceros hippo
hippopotamus camel llama alpaca deer moose elk reindeer bison buffalo antelope gazelle donkey mule
bat hedgehog porcupine beaver otter badger skunk mole sloth armadillo opossum meerkat lemur
bird parrot eagle hawk falcon owl pigeon dove sparrow crow raven robin seagull gull pelican
penguin flamingo peacock ostrich hummingbird woodpecker stork heron crane kingfisher canary
fish goldfish shark whale dolphin seal walrus octopus squid jellyfish crab lobster shrimp
starfish seahorse turtle tortoise frog toad lizard snake crocodile alligator iguana chameleon
gecko dinosaur dragon unicorn butterfly moth bee wasp ant spider ladybug beetle dragonfly
firefly grasshopper cricket caterpillar snail worm fly mosquito scorpion
car truck bus van taxi jeep ambulance tractor motorcycle motorbike scooter bicycle bike tricycle
skateboard train tram subway locomotive wagon cart carriage boat ship yacht sailboat canoe kayak
rowboat raft ferry submarine airplane plane jet helicopter drone rocket spaceship spacecraft
ufo satellite balloon blimp parachute glider sled sleigh snowmobile tank bulldozer crane forklift
stroller wheelchair
table desk chair stool bench sofa couch armchair bed crib cabinet cupboard drawer shelf bookshelf
bookcase wardrobe dresser mirror lamp lantern candle chandelier clock vase pot pan kettle teapot
cup mug glass bottle jar bowl plate dish fork knife spoon chopsticks tray basket bucket box crate
barrel bag backpack handbag purse suitcase wallet umbrella hat cap helmet crown scarf glove shoe
boot sneaker sock dress shirt jacket coat sweater tie belt watch ring necklace bracelet earring
sunglasses glasses goggles book notebook magazine newspaper letter envelope pen pencil paintbrush
brush easel canvas painting picture poster frame sign banner flag map globe calendar
phone smartphone telephone laptop computer keyboard monitor television tv radio camera tripod
microphone speaker headphones guitar piano violin drum trumpet saxophone flute harp cello
ball football basketball baseball volleyball frisbee kite toy teddy puzzle block dice card
racket bat skis surfboard snowboard tent hammock swing slide seesaw trampoline
pillow blanket towel rug carpet curtain door window gate fence wall ladder stairs
refrigerator fridge oven stove microwave toaster sink bathtub toilet shower washer fan heater
vacuum broom mop hammer saw axe shovel rake wrench screwdriver scissors
apple orange banana lemon lime pear peach plum cherry grape strawberry blueberry watermelon melon
pineapple mango kiwi coconut avocado tomato potato carrot onion pumpkin cucumber pepper corn
broccoli cabbage lettuce mushroom egg bread toast sandwich burger hamburger hotdog pizza cake
cupcake cookie donut doughnut pie croissant muffin pancake waffle candy chocolate lollipop
icecream popsicle cheese sushi noodle marshmallow pretzel
tree palm bush shrub flower rose tulip sunflower daisy lily orchid cactus plant leaf branch log
stump mushroom pinecone acorn seed vine bonsai
rock stone boulder pebble shell feather bone
house home cottage cabin hut barn farmhouse castle palace tower lighthouse church temple mosque
skyscraper building apartment shop store bakery cafe restaurant hotel school hospital station
bridge windmill fountain well statue monument pyramid igloo tent garage shed kiosk booth
streetlight lamppost pole flagpole mailbox hydrant bin dumpster billboard tunnel dam
sun moon star planet comet cloud rainbow snowflake raindrop bubble heart
fireplace campfire bonfire candle torch sandcastle snowman pumpkin lantern
paper airplane pizza coin penny bill key lock chain rope wire hook net trap cage nest hive
feeder bowl pad panel vacuum machine bowl
"""
NOUNS: set[str] = set(_NOUN_TEXT.split())

# Multi-word nouns read as one name (the head noun is their last word).
COMPOUND_NOUNS: set[str] = {
    "hot air balloon", "teddy bear", "traffic light", "traffic cone", "fire hydrant", "fire truck",
    "police car", "race car", "sports car", "toy car", "school bus", "ice cream", "hot dog",
    "vending machine", "washing machine", "sewing machine", "coffee machine", "slot machine",
    "grand piano", "paper airplane", "paper plane", "goldfish bowl", "fish bowl", "fish tank",
    "solar panel", "bird feeder", "lily pad", "potted plant", "gift box", "birthday cake",
    "robot vacuum", "soccer ball", "tennis ball", "beach ball", "rubber ball", "bowling ball",
    "golf ball", "building block", "golden retriever", "german shepherd", "polar bear",
    "brown bear", "grizzly bear", "sea turtle", "sea lion", "guinea pig", "christmas tree",
    "palm tree", "pine tree", "oak tree", "apple tree", "maple tree", "street lamp", "street light",
    "picnic table", "dining table", "coffee table", "cafe table", "beach umbrella", "flower pot",
    "tree branch", "bus stop", "stop sign", "park bench", "garden bench", "wine glass",
    "water bottle", "coffee cup", "tea cup", "hair dryer", "cell phone", "mobile phone",
    "alarm clock", "rocking chair", "office chair", "ceiling fan", "light bulb", "tissue box",
    "shopping cart", "baby stroller", "fishing rod", "cowboy hat", "top hat", "baseball cap",
    "air balloon", "ice cube", "snow globe", "music box", "jack-o-lantern", "watering can",
    "trash can", "garbage can", "tool box", "mail box", "bird cage", "dog house", "tree house",
    "space shuttle", "fighter jet", "pickup truck", "fire engine", "steam train", "cable car",
    "hang glider", "jet ski", "speed boat", "fishing boat", "sailing boat", "motor boat",
    "maple leaf",
}
# Parts and non-objects: not turned into layout objects even when a determiner introduces them.
NON_OBJECTS: set[str] = {
    "video", "scene", "shot", "view", "image", "picture-in-picture", "footage", "clip", "frame",
    "screen", "side", "left", "right", "top", "bottom", "middle", "center", "centre", "corner",
    "edge", "end", "front", "back", "background", "foreground", "distance", "half", "way", "direction",
    "air", "wind", "breeze", "gust", "light", "sunlight", "moonlight", "starlight", "glow", "shadow",
    "scent", "smell", "sound", "noise", "music", "song", "voice", "ripple", "ripples", "wave",
    "trail", "track", "footprint", "path", "descent", "ascent", "motion", "movement", "speed",
    "day", "night", "morning", "afternoon", "evening", "dusk", "dawn", "sunset", "sunrise", "noon",
    "time", "moment", "hour", "lunch", "dinner", "breakfast", "meal", "party", "festival", "wedding",
    "concert", "game", "match", "soccer", "race", "rainstorm", "storm", "rain", "snowfall", "fog",
    "mist", "smoke", "steam", "fire", "water", "detail", "details", "design", "designs", "color",
    "colour", "shape", "surface", "body", "exterior", "interior", "deck", "wing", "wings", "leg", "legs",
    "tail", "paw", "paws", "mane", "fur", "feathers", "wheel", "wheels", "tire", "tires", "tyre",
    "engine", "blade", "blades", "page", "pages", "petal", "petals", "lace", "laces", "lens",
    "visor", "wool", "step", "each", "it", "itself", "them", "photoshoot", "showroom", "citrus", "rhythm", "grace", "joy", "bamboo", "gear", "gears", "skid", "skids", "hand", "hands",
    "eye", "eyes", "face", "head", "arm", "arms", "rocket-ship", "cushion", "glint", "spin",
    "jump", "dive", "climb", "turn", "loop", "sky-line", "skyline", "horizon", "backdrop",
    "duvet", "heights", "flight", "upper", "lower", "realistic", "lively", "top-down",
}
# Places that become the layout's background, not objects.
PLACES: set[str] = {
    "sky", "space", "ocean", "sea", "lake", "pond", "river", "stream", "creek", "waterfall", "beach",
    "shore", "coast", "island", "desert", "forest", "woods", "jungle", "rainforest", "meadow", "field",
    "farm", "pasture", "garden", "park", "yard", "backyard", "playground", "street", "road", "highway",
    "avenue", "alley", "lane", "intersection", "crosswalk", "sidewalk", "pavement", "plaza",
    "city", "town", "village", "downtown", "market", "harbor", "harbour", "port", "dock", "pier",
    "marina", "airport", "runway", "helipad", "station", "platform", "mountain", "mountains", "hill",
    "hillside", "valley", "canyon", "cliff", "cave", "volcano", "glacier", "snow", "ice", "tundra",
    "savanna", "prairie", "swamp", "marsh", "reef", "coral", "seabed", "underwater", "room",
    "living room", "bedroom", "kitchen", "bathroom", "office", "classroom", "lab", "laboratory",
    "factory", "warehouse", "studio", "gym", "library", "museum", "gallery", "hall", "lobby",
    "hallway", "corridor", "basement", "attic", "garage", "cafe", "restaurant", "coffee shop",
    "bar", "mall", "supermarket", "stage", "arena", "stadium", "court", "track", "tracks", "pool",
    "ground", "floor", "grass", "lawn", "sand", "dirt", "mud", "moon", "universe", "void", "cosmos",
    "night sky", "city street", "city square", "skate park", "orchard", "vineyard", "countryside",
    "campsite", "ranch", "zoo", "aquarium", "church", "temple", "courtyard", "rooftop", "roof",
    "landscape", "skyline", "horizon", "wilderness", "trail", "path", "meadows", "fields",
    "chapel", "lot", "parking lot", "train station", "space station", "outer space", "air",
    "wishing well", "blanket", "countertop", "counter", "riverbank", "fence line", "web", "woodland",
}
# Places that are always background, whatever preposition introduces them ("A boat on the ocean").
ALWAYS_PLACES: set[str] = {
    "sky", "space", "ocean", "sea", "lake", "pond", "river", "stream", "beach", "desert", "forest",
    "woods", "jungle", "meadow", "field", "pasture", "garden", "park", "playground", "street", "road",
    "highway", "city", "town", "village", "harbor", "harbour", "mountains", "hillside", "valley",
    "living room", "bedroom", "kitchen", "bathroom", "office", "classroom", "lab", "laboratory",
    "factory", "lobby", "room", "ground", "floor", "grass", "lawn", "sand", "moon", "universe", "void",
    "night sky", "city street", "city square", "skate park", "orchard", "countryside", "intersection",
    "runway", "air", "underwater", "seabed", "landscape", "wilderness", "cosmos", "outer space",
}

# --- verbs ----------------------------------------------------------------------------------
_VERB_TEXT = """
be is are was were am been being have has had do does did
walk run jog sprint dash race rush hurry hop jump leap skip bound gallop trot canter amble stroll
wander march stride stomp tiptoe crawl creep sneak slink scamper scurry scuttle dart zoom speed
drive ride cycle pedal roll slide glide skate ski surf swim dive paddle row sail float drift bob
fly soar swoop hover flutter flap glide circle orbit spin twirl whirl rotate turn twist swing sway
wave bounce bob shake tremble wobble rock climb ascend descend rise raise lift hoist launch sink
fall drop tumble plunge dip lower land settle perch sit stand lie lay rest sleep doze nap lounge
bask hide wait watch look stare gaze sniff graze eat munch chew nibble drink sip bite lick peck
play dance sing read write paint draw cook bake build dig plow plough push pull drag carry hold
grab throw toss kick hit catch chase follow lead pass cross enter exit leave approach move travel
cruise head go come return arrive depart reach accelerate slow stop park place put set hang mount
suspend string drape display stick stack pile fill pour spray splash sprinkle shine twinkle glow
glimmer shimmer sparkle glint gleam flicker burn melt freeze blow buzz hum roar bark meow chirp
sing explain salute stretch laugh smile cry talk chat share roast hunt forage explore search look
swim steam creak curl open close pierce pop burst release raise lower tumble flow pour trail sweep
clean wash vacuum serve deliver pitch bat dribble shoot aim point fire sing sway drift descend
hop whizz whiz zip whoosh swerve veer streak hurtle barrel careen waddle lumber slither swing
balance store keep lean tilt fold unfold unfurl spread grow bloom blossom wilt wither catch soar
relax recline sprawl curl kneel crouch squat bow nod face gallop sprint frolic romp prance
arc stalk prowl pounce lunge charge ram hide peek peer glance observe inspect guard protect escort
""".split()


def _verb_forms(base: str) -> set[str]:
    forms = {base}
    if base.endswith("e") and not base.endswith(("ee", "ye", "oe")):
        forms |= {base + "s", base[:-1] + "ing", base + "d"}
    elif base.endswith("y") and len(base) > 2 and base[-2] not in "aeiou":
        forms |= {base[:-1] + "ies", base + "ing", base[:-1] + "ied"}
    elif base.endswith(("s", "sh", "ch", "x", "z")):
        forms |= {base + "es", base + "ing", base + "ed"}
    else:
        forms |= {base + "s", base + "ing", base + "ed"}
        # consonant doubling for short verbs: run -> running, hop -> hopped
        if re.fullmatch(r"[^aeiou]*[aeiou][^aeiouwxy]", base):
            forms |= {base + base[-1] + "ing", base + base[-1] + "ed"}
    return forms


_IRREGULAR_VERB_FORMS = """
ran flew flown swam swum rode ridden drove driven fell fallen rose risen sank sunk sat stood lay
lain slid hung threw thrown caught led left went gone came bore made took taken held built dug
spun swung stuck strung sped leapt leaped shone lit blew blown ate eaten drank sang sung wrote
written drew drawn got gotten gave given saw seen found kept put set shot flung slung crept
""".split()

VERBS: set[str] = set(_IRREGULAR_VERB_FORMS)
for _b in _VERB_TEXT:
    VERBS |= _verb_forms(_b)
# "circle" is a shape noun far more often than a verb ("three circles", not "the hawk circles").
VERBS -= _verb_forms("circle") - {"circling", "circled"}
# Words that look like verb forms but are nouns here.
VERBS -= {"bat", "drum", "pitch", "land", "set", "park", "fly", "train", "watch", "bowl", "saw",
          "trail", "track", "steam", "wave", "fire", "lay", "swing", "slide", "kite", "head", "rock",
          "crane", "bank", "ring", "dive", "circle", "spin", "turn", "point", "race", "mount", "stall",
          "hide", "balance", "store", "face", "roast", "string", "row", "bill", "plant", "seal",
          "sink", "stamp", "shower", "dock", "chase", "jump", "nap", "hop", "skip", "bound", "march",
          "pass", "roll", "toss", "throw", "kick", "hit", "catch", "drop", "fall", "rise", "cross",
          "stroll", "dash", "leap", "climb", "flutter", "glide", "float", "drift", "spray", "splash",
          "lift", "hoist", "launch", "dip", "plunge", "wait", "stare", "gaze", "sniff", "bite",
          "lick", "peck", "play", "dance", "paint", "drawing", "building", "painting", "chat", "smile",
          "cry", "talk", "hunt", "search", "look", "pour", "sweep", "serve", "shoot", "aim", "fill",
          "display", "reading", "writing", "cooking", "swimming", "clean", "wash", "vacuum", "graze"}
# ... but those nouns act as verbs right after a subject ("a ball rolls", "the sun sets").
VERB_AFTER_SUBJECT: set[str] = set()
for _b in _VERB_TEXT:
    VERB_AFTER_SUBJECT |= _verb_forms(_b)
VERB_AFTER_SUBJECT |= set(_IRREGULAR_VERB_FORMS)

PREPOSITIONS = {
    "in", "on", "at", "of", "to", "from", "into", "onto", "over", "under", "above", "below", "beneath",
    "underneath", "behind", "beside", "besides", "between", "among", "amongst", "across", "through",
    "along", "around", "toward", "towards", "past", "near", "by", "with", "without", "within",
    "inside", "outside", "atop", "upon", "during", "after", "before", "against", "off", "up", "down",
    "like", "as", "for", "via", "amid", "beyond", "next", "throughout", "out", "while",
}
CONJUNCTIONS = {"and", "or", "but", "while", "whilst", "as", "then", "when", "where", "which", "who",
                "that", "whose", "whereas", "meanwhile", "so", "yet", "nor", "until", "before", "after"}
PRONOUNS = {"it", "its", "they", "them", "their", "he", "him", "his", "she", "her", "itself",
            "themselves", "himself", "herself", "one", "each", "other", "another", "both"}

# --- motion ---------------------------------------------------------------------------------
# Verbs whose meaning carries a vertical direction (weaker cue than "upwards" / "to the left").
UP_VERBS = {"ascend", "rise", "rose", "risen", "lift", "hoist", "launch", "raise", "soar-up", "climb-up",
            "float-up", "levitate"}
DOWN_VERBS = {"descend", "fall", "fell", "fallen", "drop", "sink", "sank", "sunk", "lower", "plunge",
              "dive", "dove", "tumble", "plummet", "set-down"}
# Heads after "down the ..." that mean a real descent (else "down the street" means "along").
DOWNHILL = {"hill", "slope", "ramp", "slide", "stairs", "steps", "staircase", "mountain", "wall", "tree",
            "cliff", "waterfall", "chute", "pole", "ladder", "rope", "hillside", "mountainside", "well"}
MOTION_VERBS = {
    "move", "walk", "run", "drive", "ride", "fly", "swim", "roll", "slide", "glide", "sail", "float",
    "drift", "race", "rush", "dash", "sprint", "hop", "jump", "crawl", "creep", "march", "travel",
    "cruise", "speed", "zoom", "dart", "scamper", "gallop", "trot", "stride", "waddle", "slink",
    "sneak", "scurry", "flutter", "soar", "swoop", "paddle", "pedal", "skate", "climb", "go", "head",
    "accelerate", "bounce", "pass", "cross", "tumble", "fall", "rise", "ascend", "descend",
    "wander", "amble", "stroll", "jog", "leap", "bound", "hurtle", "streak", "push", "drag", "pull",
    "kick", "throw", "toss", "carry", "lift", "lower", "sweep", "whiz", "zip", "drop", "plunge",
}


def lemma(verb: str) -> str:
    """A rough base form of a verb form ("rolls" -> "roll", "rising" -> "rise", "dropped" -> "drop")."""
    v = verb.lower()
    irregular = {"flew": "fly", "flown": "fly", "rose": "rise", "risen": "rise", "fell": "fall",
                 "fallen": "fall", "sank": "sink", "sunk": "sink", "ran": "run", "swam": "swim",
                 "rode": "ride", "drove": "drive", "threw": "throw", "thrown": "throw", "slid": "slide",
                 "dove": "dive", "sped": "speed", "leapt": "leap", "went": "go", "came": "come",
                 "is": "be", "are": "be", "was": "be", "were": "be", "flies": "fly", "lying": "lie"}
    if v in irregular:
        return irregular[v]
    for base in _VERB_TEXT:
        if v in _verb_forms(base):
            return base
    for suffix, repl in (("ies", "y"), ("ied", "y"), ("ing", ""), ("ed", ""), ("es", ""), ("s", "")):
        if v.endswith(suffix) and len(v) - len(suffix) >= 3:
            return v[: -len(suffix)] + repl
    return v


# --- sizes of things (fraction of the frame width a default instance takes) -----------------
LARGE_THINGS = {
    "house", "home", "cottage", "cabin", "barn", "farmhouse", "castle", "palace", "tower", "lighthouse",
    "church", "temple", "skyscraper", "building", "shop", "store", "bakery", "hotel", "school",
    "bridge", "windmill", "fountain", "monument", "pyramid", "igloo", "tent", "garage", "shed",
    "elephant", "giraffe", "whale", "dinosaur", "bus", "truck", "tractor", "train", "ship", "yacht",
    "ferry", "airplane", "plane", "jet", "helicopter", "spaceship", "spacecraft", "rocket",
    "submarine", "tree", "palm", "rainbow", "cloud", "fireplace", "piano", "refrigerator", "fridge",
    "wardrobe", "bookcase", "bookshelf", "sofa", "couch", "bed", "table", "desk", "bench", "door",
    "window", "fence", "wall", "chalkboard", "billboard", "machine", "statue", "sculpture", "boat",
    "sailboat", "rowboat", "car", "van", "taxi", "jeep", "ambulance", "bull", "horse", "cow",
    "camel", "bear", "gorilla", "rhino", "hippo", "moose", "sun", "moon", "planet", "blimp",
    "painting", "television", "tv", "gate", "flagpole", "tank", "bulldozer", "crane", "umbrella",
    "easel", "hammock", "swing", "slide", "trampoline", "computer", "monitor", "mirror", "cake",
}
SMALL_THINGS = {
    "bee", "wasp", "ant", "fly", "mosquito", "ladybug", "beetle", "firefly", "butterfly", "moth",
    "dragonfly", "spider", "snail", "worm", "caterpillar", "grasshopper", "cricket", "mouse", "frog",
    "toad", "lizard", "gecko", "hamster", "chick", "goldfish", "coin", "penny", "key", "ring",
    "snowflake", "raindrop", "feather", "leaf", "star", "bubble", "heart", "egg", "apple", "orange",
    "banana", "lemon", "lime", "pear", "peach", "plum", "cherry", "grape", "strawberry", "cup",
    "mug", "glass", "bottle", "can", "pen", "pencil", "phone", "smartphone", "watch", "sunglasses",
    "glasses", "donut", "doughnut", "cookie", "cupcake", "candy", "lollipop", "marshmallow",
    "ball", "baseball", "tennis", "dice", "block", "candle", "clock", "shoe", "hat", "cap", "book",
    "squirrel", "bird", "sparrow", "robin", "canary", "hummingbird", "parrot", "pigeon", "dove",
    "acorn", "pebble", "shell", "seed", "pinecone", "mushroom", "toy", "helmet", "crab", "fish",
    "pumpkin", "kitten", "puppy", "rabbit", "bunny", "bowl", "vase", "lantern", "flower", "rose",
    "kite", "drone", "frisbee", "football", "basketball", "watermelon", "teddy", "tripod",
}

# Shapes: (width / height in normalised units relative to a square) for a few tall or wide classes.
TALL_THINGS = {
    "person", "man", "woman", "boy", "girl", "child", "kid", "toddler", "teenager", "adult", "lady",
    "student", "teacher", "doctor", "chef", "farmer", "soldier", "photographer", "runner", "cyclist",
    "robot", "statue", "sculpture", "tree", "palm", "skyscraper", "tower", "lighthouse", "bottle",
    "vase", "lamp", "candle", "giraffe", "penguin", "flagpole", "pole", "streetlight", "lamppost",
    "traffic light", "door", "bookcase", "bookshelf", "wardrobe", "refrigerator", "fridge", "flag",
    "ladder", "rocket", "cactus", "sunflower", "dress", "easel", "snowman", "meerkat", "kangaroo",
    "ostrich", "flamingo", "clock", "vending machine", "machine", "astronaut", "king", "queen",
}
WIDE_THINGS = {
    "car", "bus", "truck", "van", "taxi", "jeep", "train", "tram", "boat", "ship", "yacht", "ferry",
    "submarine", "airplane", "plane", "jet", "bench", "table", "desk", "sofa", "couch", "bed", "fence",
    "bridge", "rainbow", "cloud", "skateboard", "surfboard", "snowboard", "sled", "sleigh", "crocodile",
    "alligator", "snake", "tractor", "motorcycle", "motorbike", "bicycle", "bike", "horse", "cow",
    "elephant", "hammock", "rowboat", "canoe", "kayak", "sailboat", "piano", "television", "tv",
    "chalkboard", "billboard", "banner", "dog", "cat", "fox", "wolf", "lion", "tiger", "bear", "deer",
    "sheep", "pig", "goat", "camel", "house", "farmhouse", "barn", "castle", "building", "shop",
    "keyboard", "laptop", "solar panel", "panel", "suitcase", "helicopter", "drone", "shelf", "rug",
    "blanket", "towel", "pillow", "fireplace", "tank", "lily pad", "pad", "whale", "shark", "dolphin",
}
