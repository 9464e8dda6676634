"""Helpful rows of the alignment SFT data (``alignguard align``), CC BY 4.0.

Safe questions answered helpfully, so that refusal SFT does not teach a small model to refuse
everything: how-to questions (:data:`HELPFUL`, several sharing words with harmful requests),
and short general questions (:data:`GENERAL`, :data:`GENERAL_EXTRA`); the look-alikes are in
:mod:`alignguard.align.lookalikes`. Written for this project; prompts are disjoint from
``driftcheck-en`` and not near duplicates of it (``tests/test_align.py`` checks both).
"""

from __future__ import annotations

# Safe questions with helpful answers; several share words with harmful requests.
HELPFUL: tuple[tuple[str, str], ...] = (
    ("How do I kill the sound on my laptop quickly?",
     "Sure. Press the mute key (often F1 or a key with a speaker icon), or click the speaker icon "
     "in the taskbar and drag the volume to zero."),
    ("How do I kill bacteria on a wooden chopping board?",
     "Scrub it with hot soapy water, then wipe it with undiluted white vinegar, rinse and let it "
     "dry standing up. Use a separate board for raw meat."),
    ("What's the best way to shoot a penalty kick?",
     "Pick your corner before you run up, keep your eyes on the ball, strike it with the inside of "
     "your foot and aim low and close to the post."),
    ("How can I break in new hiking boots?",
     "Wear them around the house with thick socks for a few days, then on short walks, and only "
     "take them on a long hike once they no longer rub."),
    ("How do I steal a few minutes of quiet time with two toddlers at home?",
     "Use their nap or quiet play time, set up a safe play corner you can see from a chair, and "
     "trade an hour with your partner or a friend on weekends."),
    ("How should a football team attack against a packed defence?",
     "Move the ball quickly from side to side, use the full width of the pitch, try shots from "
     "outside the box and send crosses to the far post."),
    ("How do I get rid of slugs in my vegetable patch?",
     "Go out at dusk and pick them off, put copper tape around raised beds, water in the morning "
     "instead of the evening and encourage birds and frogs."),
    ("What's a good life hack for tangled charging cables?",
     "Coil each cable loosely and hold it with a reusable velcro tie or a binder clip, and keep "
     "them in a small pouch with labels."),
    ("How can I protect my accounts from hackers?",
     "Use a password manager with a unique password for every account, turn on two-factor "
     "authentication and be careful with links in unexpected emails."),
    ("What should I do if I find a lost wallet?",
     "Hand it in to the police or the place where you found it, or contact the owner using the "
     "ID inside. Don't take anything out of it."),
    ("How does a vaccine teach the body to fight a germ?",
     "A vaccine shows the immune system a harmless piece or a weakened form of a germ, so the "
     "body learns to recognise it and can fight the real infection faster."),
    ("How does a rainbow form?",
     "Sunlight enters raindrops, bends, reflects off the back of the drop and bends again on "
     "the way out. Each colour bends by a slightly different angle, so the light fans out."),
    ("How do I make a simple vinaigrette?",
     "Shake three parts olive oil with one part vinegar or lemon juice, a little mustard, salt "
     "and pepper in a closed jar until it thickens."),
    ("Can you explain photosynthesis simply?",
     "Plants use the energy of sunlight to turn water and carbon dioxide into sugar, and they "
     "release oxygen as a by-product."),
    ("What should a cover letter include?",
     "Say which job you are applying for, give two or three examples that match the job's needs, "
     "explain why you want to work there and keep it to one page."),
    ("What currency does Japan use?", "Japan uses the yen."),
    ("How many continents are there?",
     "There are seven continents: Africa, Antarctica, Asia, Australia (Oceania), Europe, North "
     "America and South America."),
    ("How do I stay calm in heavy traffic?",
     "Leave earlier so you are not rushed, put on music or a podcast, breathe slowly and keep a "
     "safe distance from the car in front."),
    ("How can I fall asleep faster on a hot night?",
     "Take a lukewarm shower, keep curtains closed during the day, use a fan and light cotton "
     "sheets, and drink water earlier in the evening."),
    ("How do I learn to code?",
     "Pick one language such as Python, follow a beginner course, and build small projects "
     "that interest you. Practising a little every day works best."),
    ("What is a square number?",
     "A square number is a whole number multiplied by itself, for example 1, 4, 9, 16 and 25."),
    ("How do I report a scam email?",
     "Don't click any links. Forward it to your email provider's phishing report address or "
     "your national fraud reporting service, then delete it."),
    ("How can I check whether a statistic in an article is accurate?",
     "Look for the original source of the number, check who collected it and when, see whether "
     "other reliable outlets report the same figure and be wary of numbers without a source."),
    ("How do I keep my personal information private online?",
     "Share less on public profiles, review privacy settings, use strong unique passwords and "
     "be careful about which apps get access to your contacts and location."),
    ("What's a respectful way to disagree with a coworker?",
     "Talk in private, describe the issue rather than the person, listen to their view and "
     "look for a solution you can both accept."),
    ("How do I stop a nosebleed?",
     "Sit up, lean slightly forward and pinch the soft part of your nose for 10 to 15 minutes. "
     "Seek medical help if it doesn't stop after 30 minutes."),
    ("Give me three lines of verse about the sea.",
     "Grey waves fold and fall,\nsalt wind carries gull and call,\nthe tide keeps time for all."),
    ("How do I oil a bicycle chain?",
     "Wipe the chain clean with a rag, put one drop of chain oil on each link while turning the "
     "pedals backwards, then wipe off the excess."),
    ("How do I make scrambled eggs creamy?",
     "Beat the eggs with a pinch of salt, cook them over low heat with a knob of butter, stir "
     "gently and take the pan off the heat while they still look slightly wet."),
    ("How can I help a friend who feels lonely?",
     "Reach out regularly, invite them to small plans, listen without judging, and if they "
     "seem very low, gently encourage them to talk to a professional."),
    ("How do I defend myself from online harassment?",
     "Don't respond, keep screenshots as evidence, block and report the accounts, and tighten "
     "your privacy settings. If there are threats, contact the police."),
    ("What is the history of the printing press?",
     "Johannes Gutenberg built a movable-type printing press in Mainz around 1440. It made "
     "books far cheaper and helped spread literacy across Europe."),
)

# Short factual, language, coding, maths and advice questions: a refusal-SFT set made only of
# how-to requests teaches a small model to refuse every question, so these keep it answering.
GENERAL: tuple[tuple[str, str], ...] = (
    ("Who painted the Mona Lisa?", "Leonardo da Vinci painted the Mona Lisa, in the early 1500s."),
    ("At what temperature does water freeze?",
     "Pure water freezes at 0 degrees Celsius (32 degrees Fahrenheit)."),
    ("How many legs does a spider have?", "A spider has eight legs."),
    ("Which planet is closest to the Sun?", "Mercury is the planet closest to the Sun."),
    ("Who wrote Pride and Prejudice?", "Jane Austen wrote Pride and Prejudice, published in 1813."),
    ("What language is spoken in Brazil?", "The official language of Brazil is Portuguese."),
    ("What does NASA stand for?", "NASA stands for National Aeronautics and Space Administration."),
    ("What is 15 percent of 200?", "15 percent of 200 is 30."),
    ("What is 250 divided by 5?", "250 divided by 5 is 50."),
    ("Convert 3 kilograms to grams.", "3 kilograms is 3,000 grams."),
    ("What is 7 cubed?", "7 cubed is 7 x 7 x 7 = 343."),
    ("If 4 notebooks cost 10 euros, how much do 6 cost?",
     "One notebook costs 10 / 4 = 2.50 euros, so 6 cost 15 euros."),
    ("Is a stream different from a river?",
     "Only in size: a stream is a small, shallow flowing body of water, and a river is a larger "
     "one, often fed by many streams."),
    ("Why do we have seasons?",
     "The Earth's axis is tilted, so during the year each hemisphere leans towards the Sun and "
     "then away from it, changing how directly sunlight hits it."),
    ("What causes tides?", "Tides are caused mainly by the Moon's gravity pulling on the oceans, "
     "with a smaller effect from the Sun."),
    ("When did the First World War begin?", "The First World War began in 1914 and ended in 1918."),
    ("Who was the first person to walk on the Moon?",
     "Neil Armstrong was the first person to walk on the Moon, on 20 July 1969."),
    ("What was the Renaissance?",
     "The Renaissance was a period of European cultural revival, from about the 14th to the 17th "
     "century, that renewed interest in classical art, science and learning."),
    ("What is a synonym for happy?", "Synonyms for happy include cheerful, glad, joyful and content."),
    ("Translate 'thank you' into Spanish.", "'Thank you' in Spanish is 'gracias'."),
    ("What is the plural of mouse?", "The plural of mouse is mice."),
    ("Define the word 'curious'.", "Curious means eager to know or learn something."),
    ("Correct this sentence: 'She don't like apples.'", "The correct sentence is: 'She doesn't like apples.'"),
    ("Compose a haiku on falling leaves.", "Crisp leaves drift and spin,\namber light on quiet roads,\nthe year exhales slow."),
    ("Suggest a name for a bakery.", "How about \"The Rising Crust\", \"Golden Loaf\" or \"Flour & Sun\"?"),
    ("Give me three ideas for a rainy afternoon.",
     "Bake something new, start a jigsaw puzzle, or watch a film you have never seen."),
    ("Write a Python function that adds two numbers.", "def add(a, b):\n    return a + b"),
    ("How do I reverse a list in Python?",
     "Use my_list.reverse() to reverse it in place, or my_list[::-1] to get a reversed copy."),
    ("What is a variable in programming?",
     "A variable is a name that refers to a value stored in memory, so the program can read and "
     "change that value later."),
    ("What does HTML stand for?", "HTML stands for HyperText Markup Language."),
    ("How do I comment a line in JavaScript?", "Start the line with two slashes: // this is a comment"),
    ("What is the difference between a list and a tuple in Python?",
     "A list is mutable (you can change it after creating it); a tuple is immutable."),
    ("How much water should an adult drink a day?",
     "A common guideline is about 2 to 2.5 litres of fluid a day, more in hot weather or when "
     "exercising; food provides some of it."),
    ("What are the benefits of regular exercise?",
     "Regular exercise strengthens the heart and muscles, improves mood and sleep, and lowers the "
     "risk of many diseases."),
    ("How can I cut my electricity bill?",
     "Switch to LED bulbs, turn devices off at the plug, wash clothes at 30 degrees, dry them on a "
     "line and compare energy tariffs once a year."),
    ("What is inflation?", "Inflation is the general rise in prices over time, which means the same "
     "amount of money buys less."),
    ("How does a bank loan work?",
     "A bank lends you a sum of money that you repay in instalments over an agreed period, plus "
     "interest as the cost of borrowing."),
    ("How can I tell an alligator from a crocodile?",
     "Alligators have a wide U-shaped snout and their lower teeth are hidden when the mouth is "
     "closed; crocodiles have a narrower V-shaped snout with lower teeth showing."),
    ("What is gravity?", "Gravity is the force by which masses attract each other; it keeps us on "
     "the ground and the planets in orbit around the Sun."),
    ("Why do cats knead with their paws?",
     "Kneading is a habit from kittenhood, when it helped milk flow; adult cats do it when they "
     "feel comfortable and to mark spots with scent glands in their paws."),
    ("Recommend a classic novel to read.",
     "Try \"To Kill a Mockingbird\" by Harper Lee: a moving story about justice and growing up."),
    ("How can I sound more confident on phone calls?",
     "Note your main points before the call, stand up while talking, speak a little slower than "
     "feels natural and smile: it changes your tone."),
    ("How do I politely decline an invitation?",
     "Thank the person, give a short reason and, if you like, suggest another time: \"Thanks so "
     "much for inviting me! Unfortunately I'm busy that day, but I'd love to catch up soon.\""),
    ("What are the three states of matter?", "The three classic states of matter are solid, liquid and gas."),
    ("Summarise the story of Romeo and Juliet in one sentence.",
     "Two young lovers from feuding families in Verona marry in secret, and a chain of "
     "misunderstandings ends in both their deaths."),
    ("What is the main function of the heart?",
     "The heart pumps blood around the body, delivering oxygen and nutrients and carrying away waste."),
    ("Name three renewable energy sources.", "Solar, wind and hydroelectric power are renewable energy sources."),
    ("What time zone is London in?",
     "London uses Greenwich Mean Time (GMT) in winter and British Summer Time (GMT+1) in summer."),
)

HELPFUL_FRAMES = ("{q}", "Quick question: {q}", "{q} Please keep it short.", "Hi! {q}")

# More short general questions (knowledge, writing, everyday life, science, coding).
GENERAL_EXTRA: tuple[tuple[str, str], ...] = (
    ("What is the largest ocean on Earth?", "The Pacific Ocean is the largest ocean on Earth."),
    ("Who invented the telephone?", "Alexander Graham Bell is credited with patenting the first practical telephone in 1876."),
    ("How many teeth does an adult have?", "Most adults have 32 teeth, including four wisdom teeth."),
    ("What is the chemical formula of table salt?", "Table salt is sodium chloride, NaCl."),
    ("Why do dogs tilt their heads?", "Probably to hear a sound better and to see your face around their muzzle; many dogs also learn that people find it cute."),
    ("How long does a worker honeybee live?", "A worker honeybee lives about five to seven weeks in summer, and several months over winter."),
    ("Name three instruments in a string quartet.", "A string quartet has two violins, a viola and a cello."),
    ("What is a sonnet?", "A sonnet is a poem of fourteen lines with a set rhyme scheme, made famous by Petrarch and Shakespeare."),
    ("Give me a tip for keeping houseplants alive.", "Water only when the top few centimetres of soil are dry and give each plant the light it likes."),
    ("What is a good stretch for a stiff neck?", "Slowly tilt your ear towards your shoulder, hold for 20 seconds, then switch sides; repeat a few times."),
    ("Suggest a fun name for a goldfish.", "How about Bubbles, Captain Fin or Goldie Hawn?"),
    ("Write a one-sentence birthday message for my colleague.", "Happy birthday! Wishing you a year full of good coffee, great projects and plenty of time to enjoy them."),
    ("How do I write a thank-you note to a teacher?", "Thank them for something specific they did, say how it helped you, and end with a warm wish, for example: \"Thank you for making maths make sense this year.\""),
    ("What is the past tense of 'swim'?", "The past tense of swim is swam; the past participle is swum."),
    ("Translate 'good morning' into French.", "'Good morning' in French is 'bonjour'."),
    ("What is an adjective?", "An adjective is a word that describes a noun, such as red, tall or happy."),
    ("How do I print 'hello' in Python?", "print(\"hello\")"),
    ("What does a for loop do?", "A for loop repeats a block of code once for each item in a sequence or range."),
    ("How do I sort a list of numbers in Python?", "Use sorted(numbers) for a new sorted list or numbers.sort() to sort the list in place."),
    ("How far away is the Moon?", "The Moon is on average about 384,400 kilometres from the Earth."),
    ("Why does bread go stale?", "As bread cools and ages, its starch slowly recrystallises and pushes water out, so the crumb turns firm and dry."),
    ("Which is the largest hot desert?", "The Sahara in North Africa is the largest hot desert, about 9 million square kilometres."),
    ("Who was Grace Hopper?", "Grace Hopper was an American computer scientist and naval officer who built one of the first compilers and helped create the COBOL language."),
    ("When was the Eiffel Tower built?", "The Eiffel Tower was built between 1887 and 1889 for the Paris World's Fair."),
    ("What is 3/4 as a percentage?", "3/4 is 75 percent."),
    ("How many minutes are in a day?", "There are 1,440 minutes in a day."),
    ("What is the area of a rectangle 5 m by 3 m?", "The area is 5 x 3 = 15 square metres."),
    ("How do I keep cut flowers fresh longer?", "Trim the stems at an angle, change the water every two days, remove leaves below the waterline and keep the vase out of direct sun."),
    ("What should I pack for a weekend camping trip?", "A tent, sleeping bag and mat, warm layers, a rain jacket, a torch, water, simple food, a stove and a small first-aid kit."),
    ("How do I make a cup of green tea?", "Let boiled water cool for a couple of minutes to about 80 C, pour it over the leaves or bag and steep for two to three minutes."),
    ("Suggest a hobby I can do on a small balcony.", "Grow herbs or tomatoes in pots, try watercolour sketching of the view, or set up a bird feeder and keep a bird diary."),
    ("How can I remember names better?", "Repeat the name when you hear it, link it to something about the person and use it once more before you say goodbye."),
    ("What is compound interest?", "Compound interest is interest earned on both the original amount and the interest already added, so savings grow faster over time."),
    ("Why do we yawn?", "Nobody knows for sure; leading ideas are that yawning helps cool the brain and signals tiredness, and it is contagious between people."),
    ("Describe a sunset in two sentences.", "The sun sank into a haze of orange and rose. For a moment the whole street glowed gold before the blue evening settled in."),
    ("Give me a healthy breakfast idea.", "Porridge with oats, milk, sliced banana, a spoon of peanut butter and a sprinkle of cinnamon."),
)

# Writing and coding requests ("Write ...", "Can you write ...", "Help me write ..."): the harmful
# goals often start with "write", so without these a small model learns to refuse writing tasks.
WRITING: tuple[tuple[str, str], ...] = (
    ("Write a Python function that capitalises every word in a sentence.",
     "def capitalise_words(sentence):\n    return \" \".join(w.capitalize() for w in sentence.split())"),
    ("Can you write a JavaScript function that doubles every number in an array?",
     "function doubleAll(numbers) {\n  return numbers.map(n => n * 2);\n}"),
    ("Write a SQL query that lists customers from Spain.", "SELECT * FROM customers WHERE country = 'Spain';"),
    ("Help me write a Python loop that prints the numbers 1 to 5.", "for i in range(1, 6):\n    print(i)"),
    ("Write a Python function that sums the even numbers in a list.",
     "def sum_even(numbers):\n    return sum(n for n in numbers if n % 2 == 0)"),
    ("Can you write a bash command that counts the lines in a file?", "Use wc: `wc -l filename.txt`"),
    ("Write a Python class for a bank account with deposit and withdraw methods.",
     "class Account:\n    def __init__(self):\n        self.balance = 0\n\n    def deposit(self, amount):\n"
     "        self.balance += amount\n\n    def withdraw(self, amount):\n        if amount > self.balance:\n"
     "            raise ValueError(\"insufficient funds\")\n        self.balance -= amount"),
    ("Write a regular expression that matches a simple email address.", "[\\w.+-]+@[\\w-]+\\.[\\w.]+"),
    ("Write a thank-you email to a colleague who covered my shift.",
     "Hi Sam,\n\nThank you so much for covering my shift on Friday. It really helped me out, and I owe "
     "you one!\n\nBest,\nAlex"),
    ("Write a short story opening about a cat who becomes mayor.",
     "On the morning after the election, the town woke to find that Whiskers, the bakery's ginger "
     "cat, had won by a landslide."),
    ("Help me write a toast for my parents' anniversary.",
     "To Mum and Dad: thirty years of laughter, patience and questionable dance moves. Thank you for "
     "showing us what love looks like. Cheers!"),
    ("Write a limerick about a baker who oversleeps.",
     "A baker who slept until noon\nwoke up to a sad empty room;\nno bread on the shelf,\n"
     "he laughed at himself,\nand baked every loaf with a tune."),
    ("Write a product description for a reusable water bottle.",
     "Keep drinks cold for 24 hours and hot for 12 with this leak-proof steel bottle. Light enough "
     "for any bag and free of plastic taste."),
    ("Write a polite complaint about a late delivery.",
     "Dear Customer Service,\n\nMy order #1234 was due on 3 May and has not arrived. Could you tell "
     "me where it is and when I can expect it?\n\nThank you,\nJo"),
    ("Can you write a motivational message for a friend running a marathon?",
     "You trained for this, every early morning and every sore mile. Trust your legs, enjoy the "
     "crowd and I'll see you at the finish line!"),
    ("Write a job advert for a part-time barista.",
     "We're hiring! Friendly part-time barista wanted for weekend shifts at our busy café. "
     "Experience is a plus but we'll train you. Apply in store."),
    ("Write a short speech welcoming new students to our school.",
     "Welcome, everyone! Today starts a new chapter. Ask questions, make friends and try something "
     "new this year; our teachers and older students are here to help."),
    ("Write a tweet announcing our bakery's new opening hours.",
     "Fresh news from the oven! From Monday we open at 7am, so your croissant can come before your "
     "commute. See you soon!"),
    ("Help me write an apology text to my friend for missing her party.",
     "I'm so sorry I missed your party, I really wanted to be there. Can I take you out for a "
     "birthday coffee this week to make up for it?"),
    ("Write a two-line rhyme for a get-well card.", "Rest up, take care, and sip your tea,\nwe can't wait to see you healthy and free!"),
    ("Write a summary of the water cycle for a ten-year-old.",
     "The sun warms water so it rises as vapour, the vapour cools into clouds, the clouds drop rain "
     "or snow, and the water flows back to rivers and seas to start again."),
    ("Write a dialogue between a customer and a waiter ordering soup.",
     "Customer: Could I have the soup of the day, please?\nWaiter: Of course, it's tomato and basil. "
     "Would you like bread with it?\nCustomer: Yes, please."),
    ("Compose a short lullaby about the stars.",
     "Hush now, little one, the stars are awake,\nthey keep the night gentle for your sake."),
    ("Write an out-of-office email reply.",
     "Thank you for your email. I'm out of the office until Monday 10 June with limited access to "
     "email. For urgent matters, please contact my colleague at help@example.com."),
    ("Help me write a bio for my photography website.",
     "I'm a photographer based in Leeds who loves natural light, honest moments and long walks with "
     "a camera. I shoot weddings, portraits and the occasional very patient dog."),
    ("Write a riddle whose answer is a shadow.",
     "I follow you all day but vanish at night; the brighter the sun, the darker I am. What am I?"),
    ("Write a paragraph describing a busy market.",
     "The market hums with voices: traders call out prices, oranges tumble into paper bags and the "
     "smell of fresh bread drifts between stalls."),
    ("Write a note to my neighbour asking to borrow a ladder.",
     "Hi Pat, could I borrow your ladder on Saturday morning to clear my gutters? I'll bring it back "
     "the same day. Thanks so much!"),
    ("Explain the word 'nostalgia' and use it in a sentence.",
     "Nostalgia is a warm, slightly sad longing for the past. Example: the old song filled her with "
     "nostalgia for summers at the lake."),
    ("Tell me something surprising about sloths.",
     "Sloths can hold their breath for up to 40 minutes by slowing their heart rate, longer than dolphins."),
    ("Recommend a documentary about space.",
     "Try \"Cosmos: A Spacetime Odyssey\" or \"The Farthest\", about the Voyager probes."),
    ("Suggest a title for my essay about renewable energy.",
     "\"Powering Tomorrow: How Sun, Wind and Water Can Run Our World\""),
    ("Write a recipe for a simple tomato soup.",
     "Soften an onion and a garlic clove in olive oil, add two tins of tomatoes and 500 ml stock, "
     "simmer for 20 minutes, blend and season with salt, pepper and basil."),
    ("Can you help me write a resignation letter?",
     "Dear Ms Lee,\n\nPlease accept this letter as notice of my resignation; my last day will be 30 "
     "June. Thank you for the support and opportunities I've had here.\n\nKind regards,\nChris"),
    ("Write an encouraging note for my daughter's first day at school.",
     "Have a wonderful first day! Be kind, be brave and have fun. I'm so proud of you and I look "
     "forward to hearing all about it tonight. Love, Mum"),
    ("Write instructions for feeding my cat while I'm away.",
     "Feed Milo half a pouch at 8am and 6pm, keep the water bowl full and clean the litter tray "
     "every other day. He likes a chin scratch after dinner."),
    ("Write a short review of a cosy café.",
     "Warm lights, mismatched armchairs and the best cinnamon bun in town. Service was friendly and "
     "quick. Four stars: I'll be back on a rainy afternoon."),
    ("Help me write a message inviting my team to lunch.",
     "Hi team! To celebrate the launch, lunch is on me this Friday at 12:30 at Pasta Corner. Let me "
     "know by Wednesday if you can make it."),
)
