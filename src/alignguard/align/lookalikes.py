"""Look-alike rows of the alignment SFT data (``alignguard align``), CC BY 4.0.

Safe requests that share words or request frames with harmful ones, answered helpfully:
:data:`LOOKALIKES` borrow the vocabulary of the six harmful categories (scary verbs, sensitive
topics asked about for protection, history or education) and :data:`BENIGN_GOALS` are benign goals
asked through the harmful request frames. Written for this project; prompts are disjoint from
``driftcheck-en`` and not near duplicates of it (``tests/test_align.py`` checks both).
"""

from __future__ import annotations

# Safe requests that borrow the vocabulary of the six harmful categories (scary verbs, sensitive
# topics asked for protection, history or education), answered helpfully: they teach the model
# that the content of a request, not its words, decides a refusal. Written for this project;
# their objects differ from driftcheck-en's over-refusal probes.
LOOKALIKES: tuple[tuple[str, str], ...] = (
    ("How do I make a bath bomb?",
     "Mix 200 g baking soda with 100 g citric acid, add a little cornflour, a few drops of oil and "
     "a spritz of water until it holds together, press it into a mould and let it dry overnight."),
    ("How do I punch up a boring speech?",
     "Open with a short story or a surprising fact, cut every sentence that does not support your "
     "main point, add one concrete example and end with a clear call to action."),
    ("How can I beat the final boss in a game I'm stuck on?",
     "Watch its attack pattern for a few tries, upgrade your gear or level up first, keep healing "
     "items ready and look up a short video guide if you are still stuck."),
    ("How do I fire a clay pot in a kiln?",
     "Let the pot dry completely, load it without pieces touching, heat slowly to about 1000 C for "
     "a bisque firing and let the kiln cool fully before opening it."),
    ("How do I gut a fish I caught?",
     "Cut along the belly from the vent to the gills with a sharp knife, pull out the insides, "
     "rinse the cavity in cold water and keep the fish on ice."),
    ("How do I shoot down a bad idea politely in a meeting?",
     "Thank the person, name what is good about it, then explain your concern with facts and "
     "suggest an alternative or a small test instead."),
    ("How do I make a killer first impression at a new job?",
     "Arrive a little early, learn names quickly, ask questions, take notes and deliver one small "
     "task well in your first week."),
    ("How do I hang a heavy mirror on a plaster wall?",
     "Find a stud with a stud finder, or use heavy-duty wall anchors rated above the mirror's "
     "weight, mark level points and use two hooks rather than one."),
    ("Which garden plants are poisonous to cats, so I can avoid them?",
     "Lilies are the most dangerous; also avoid foxglove, oleander, daffodils, tulips and azaleas. "
     "Call a vet at once if your cat chews one."),
    ("What should I do if a dog attacks me while I'm jogging?",
     "Stop running, stand still sideways, avoid eye contact and put something like a bag between "
     "you and the dog. If you are bitten, wash the wound and see a doctor."),
    ("How do I treat a burn from the oven?",
     "Cool it under cool running water for 20 minutes, remove rings near it, cover it loosely with "
     "cling film and see a doctor if it is large, blistered or on the face or hands."),
    ("What was the Silk Road?",
     "A network of trade routes linking China with Central Asia, the Middle East and Europe, "
     "used for silk, spices, ideas and religions for more than a thousand years."),
    ("How were castles defended in the Middle Ages?",
     "With thick walls and towers, moats, gatehouses with portcullises, narrow windows for archers "
     "and stores of food and water for long sieges."),
    ("How do I terminate my phone contract early?",
     "Check the contract for the early termination fee, call the provider's cancellation line, "
     "ask about a buy-out offer and get the cancellation confirmed in writing."),
    ("How do I poach an egg?",
     "Bring water to a gentle simmer, add a splash of vinegar, stir a whirlpool, slide the egg in "
     "and cook it for about three minutes, then lift it out with a slotted spoon."),
    ("How do I launder a wool jumper without shrinking it?",
     "Hand wash it in cool water with wool detergent, don't rub or wring it, press the water out "
     "in a towel and dry it flat."),
    ("How do I break into the film industry?",
     "Start with short films of your own, take work as a runner on sets, build a portfolio and "
     "network at festivals and local film groups."),
    ("How do I crack a stubborn jar lid?",
     "Run the lid under hot water, tap its edge on the counter, or grip it with a rubber glove for "
     "extra friction."),
    ("What is the difference between robbery and burglary?",
     "Burglary is entering a building to commit a crime, usually theft; robbery is taking "
     "something from a person by force or threat."),
    ("How do I check whether a used car is stolen before buying it?",
     "Compare the VIN on the car with the papers, run it through your national vehicle check "
     "service and be wary of sellers who only meet in car parks."),
    ("What should I do if I get a parking fine I think is unfair?",
     "Take photos of the signs and the spot, read the appeal instructions on the notice and send "
     "your appeal with evidence before the deadline."),
    ("How does a witness protection programme work?",
     "It gives witnesses in serious cases a new identity, a new home and support, in return for "
     "their testimony, and keeps their details secret."),
    ("Recommend a good heist film.",
     "Try \"Ocean's Eleven\" (2001) for a stylish, funny heist or \"Inside Man\" (2006) for a "
     "clever thriller."),
    ("How can artists protect their work from being copied?",
     "Keep dated drafts as proof, add watermarks to online images, register important works where "
     "possible and state the licence clearly."),
    ("What was the Ku Klux Klan, and how was it opposed?",
     "It is a white-supremacist hate group founded after the American Civil War; civil rights "
     "activists, courts and federal laws fought it and weakened it over the 20th century."),
    ("How can I make my workplace more welcoming for disabled colleagues?",
     "Ask colleagues what they need, make documents and meetings accessible, fix physical barriers "
     "and treat adjustments as normal, not as favours."),
    ("What does 'xenophobia' mean?", "Xenophobia is fear or hatred of people from other countries."),
    ("How should I respond when a friend uses a slur as a joke?",
     "Say calmly that the word hurts people and that you'd rather they didn't use it; a short, "
     "private conversation usually works better than a public one."),
    ("Write a welcome message for refugee families arriving in our town.",
     "Welcome to our town! We are glad you are here. Our community centre is open every day for "
     "help with housing, school places and language classes. We look forward to meeting you."),
    ("What caused the partition of India in 1947?",
     "The end of British rule and deep political division between the Indian National Congress "
     "and the Muslim League led to the creation of India and Pakistan."),
    ("What are the main beliefs of Sikhism?",
     "Sikhs believe in one God, equality of all people, honest work, sharing with others and "
     "remembering God, as taught by the ten Gurus."),
    ("How do I teach kids to respect people from other cultures?",
     "Read books and cook food from other cultures together, answer their questions openly, "
     "point out stereotypes and show respect in how you talk yourself."),
    ("How do I explain periods to my daughter?",
     "Keep it simple and matter-of-fact: explain that it is a normal monthly bleed as the body "
     "grows up, show her pads or tampons and tell her she can always ask you."),
    ("What changes happen to boys during puberty?",
     "Boys grow taller, their voice deepens, body and facial hair grows, muscles develop and "
     "skin can get oily. It usually starts between ages 9 and 14."),
    ("How do I write a tender goodbye scene between two lovers?",
     "Focus on small details: a hand that lingers, words left unsaid, a shared memory. Let "
     "the silence carry the emotion and end on one quiet image."),
    ("What is erectile dysfunction and how is it treated?",
     "It is trouble getting or keeping an erection. It is common, and a doctor can check for "
     "causes like heart disease or stress and offer medicine, therapy or lifestyle changes."),
    ("How do I say no to unwanted advances firmly but politely?",
     "Be clear and short: \"No, thank you, I'm not interested.\" You don't owe an explanation; "
     "walk away and ask for help if the person does not stop."),
    ("How do I get comfortable with breastfeeding?",
     "Find a supported position, bring the baby to the breast rather than leaning over, and ask a "
     "midwife or lactation consultant to check the latch."),
    ("When should I get my dog neutered?",
     "Many vets suggest between six months and a year, depending on the breed; ask your vet, who "
     "can weigh the health benefits for your dog."),
    ("How do I shred old bank statements safely?",
     "Use a cross-cut shredder, or tear them and soak them in water before recycling. Keep "
     "statements you may need for taxes for the required number of years."),
    ("How do I use a VPN on public wifi?",
     "Install a trusted VPN app, sign in, and switch it on before you join the network; it "
     "encrypts your traffic so other people on the same wifi only see scrambled data."),
    ("How can I find a lost cat in my neighbourhood?",
     "Search nearby sheds and garages at night with a torch, put its litter tray outside, post "
     "flyers and tell local vets and shelters its microchip number."),
    ("How do I keep my diary private from my siblings?",
     "Use a notebook with a lock and keep it somewhere only you use, or keep a digital diary in "
     "an app with a passcode."),
    ("How do I get a copy of my own medical records?",
     "Ask your doctor's practice or hospital in writing; in many countries you have a legal right "
     "to your records, usually within a month and often free."),
    ("What are website cookies, and should I accept them?",
     "Cookies are small files that websites store in your browser. Necessary ones make sites work; "
     "you can refuse tracking and advertising cookies without problems."),
    ("How do I reset my home router's wifi password?",
     "Log in to the router's admin page (the address is on its label), open the wireless settings "
     "and set a new password; a reset button restores factory settings if you're locked out."),
    ("Do carrots really help you see in the dark?",
     "Not really. Carrots contain vitamin A, which the eyes need, but eating extra does not give "
     "night vision; the story was spread as wartime propaganda."),
    ("Did Vikings wear horned helmets?",
     "No. There is no evidence of horned helmets in battle; the image comes from 19th-century "
     "costume designs for operas."),
    ("Is the Great Wall of China visible from space with the naked eye?",
     "Not from the Moon, and only barely, if at all, from low orbit: it is long but narrow and "
     "similar in colour to the land around it."),
    ("Do we lose most of our body heat through our heads?",
     "No, that's a myth. The head loses heat roughly in proportion to its surface area, about 10 "
     "percent of the body, though a hat still helps in the cold."),
    ("How do I check whether a health claim I read online is true?",
     "Look for the source, check whether health agencies or reviews of studies agree, be wary of "
     "products sold with the claim, and ask a doctor or pharmacist."),
    ("Why do rumours spread faster than corrections?",
     "Rumours are often surprising and emotional, so people share them quickly; corrections are "
     "less exciting and reach fewer of the people who saw the rumour."),
    ("Is the current climate change caused by the Sun?",
     "No. Solar activity has been flat or slightly falling since the 1980s while temperatures "
     "rose; the main cause is greenhouse gases from burning fossil fuels."),
    ("Do vaccines overload a baby's immune system?",
     "No. A baby's immune system meets thousands of germs every day; the vaccines in the schedule "
     "are a tiny fraction of that and are tested to be given together."),
    ("Write a made-up newspaper headline for a school play set on Mars.",
     "\"Mars Colony Celebrates First Potato Harvest: Astronaut Chef Promises Chips for All\""),
    ("How do I knock down a sandcastle so the tide doesn't take my bucket?",
     "Just flatten it with your hands or a spade and grab your bucket and tools first; the tide "
     "will smooth out the rest."),
    ("How do I smoke salmon at home?",
     "Cure the fillet in salt and sugar for a few hours, rinse and dry it, then cold- or "
     "hot-smoke it over wood chips until it is cooked through if hot-smoking."),
    ("How do I take out the trash without attracting foxes?",
     "Use a bin with a locking lid, put bags out on the morning of collection rather than the "
     "night before and rinse food containers first."),
)


# Benign goals asked through the harmful request frames: the frame alone must not trigger a
# refusal, the content decides.
BENIGN_GOALS: tuple[tuple[str, str], ...] = (
    ("surprise my sister with a birthday party",
     "Choose a date she is free, invite her friends in a private group chat, decorate a friend's "
     "place beforehand and ask someone she trusts to bring her over on a pretext."),
    ("take down an old garden shed",
     "Empty it, remove the roof panels first, then unscrew the walls one at a time and lift out "
     "the floor. Wear gloves and eye protection and ask a helper for the heavy parts."),
    ("watch the birds in my garden without scaring them",
     "Put a feeder near a window, watch from behind a curtain, keep still and use binoculars. "
     "Early morning is the busiest time."),
    ("catch a mouse in my kitchen humanely",
     "Use a live-catch trap baited with peanut butter along a wall, check it often and release "
     "the mouse far from the house. Seal the gaps around pipes afterwards."),
    ("make my home safe for a new puppy",
     "Keep chocolate, grapes, xylitol gum, medicines and cleaning products out of reach, tidy "
     "away cables and check that your house plants are safe for dogs."),
    ("hide a spare key safely",
     "Use a key lockbox with a code or leave the key with a trusted neighbour; doormats and "
     "flower pots are the first places anyone looks."),
    ("win my office chili cook-off",
     "Toast and grind your own spices, brown the meat in batches, add a little dark chocolate or "
     "coffee for depth and let it simmer for a few hours."),
    ("whiten a yellowed white shirt",
     "Soak it for a few hours in warm water with oxygen bleach, then wash it as usual and dry it "
     "in the sun, which bleaches gently too."),
    ("build a campfire safely",
     "Use an existing fire ring, clear the area around it, start with tinder and small kindling, "
     "add larger wood slowly, keep water nearby and drown the fire completely before leaving."),
    ("get a coffee stain out of a carpet",
     "Blot, don't rub. Dab the stain with a mix of washing-up liquid, white vinegar and warm "
     "water, then rinse with clean water and blot it dry."),
    ("write a cover letter for a library job",
     "Open with the job you are applying for, show your love of books and your experience helping "
     "people, give one concrete example and close by asking for an interview."),
    ("plant tomatoes on a balcony",
     "Use a large pot with drainage, good compost and a sunny spot, plant deep, add a cane for "
     "support and water regularly at the base."),
    ("teach my dog to walk on a loose lead",
     "Stop whenever the lead goes tight, walk on only when it is loose again, reward your dog for "
     "staying by your side and keep early sessions short."),
    ("organise a neighbourhood clean-up",
     "Pick a date and a meeting point, ask the council for bags and litter pickers, invite "
     "neighbours with flyers and a group chat, and plan where to leave the full bags."),
    ("get my bike ready for winter",
     "Fit mudguards and lights, check the brakes and tyres, clean and oil the chain more often and "
     "wipe off road salt after wet rides."),
    ("make my own candles",
     "Melt soy wax in a double boiler, add a few drops of fragrance, fix a wick in a clean jar, pour "
     "the wax slowly and let it set for a day before lighting."),
    ("learn to juggle three balls",
     "Start with one ball tossed from hand to hand at eye height, then two, then three in a steady "
     "rhythm. Practise over a bed so dropped balls are easy to pick up."),
    ("start a book club",
     "Invite a few friends, agree how often you'll meet, take turns choosing books and prepare two "
     "or three questions to start each discussion."),
    ("paint a bedroom in one weekend",
     "Clear and clean the room, tape edges, prime any stains, cut in around edges first, then roll "
     "the walls in two thin coats, letting the first dry."),
    ("write a monthly budget for my first flat",
     "List your income, then fixed costs (rent, bills, transport), then food and fun, and set aside "
     "some savings. Track spending for a month and adjust."),
    ("write a birthday poem for my grandfather",
     "Try four short lines with a memory only he would know, a line about what he taught you and a "
     "warm wish at the end. Simple rhymes work well."),
    ("write a Python script that renames all the photos in a folder",
     "Use pathlib: `for i, p in enumerate(sorted(Path('photos').glob('*.jpg'))): "
     "p.rename(p.with_name(f'photo_{i:03d}.jpg'))`."),
)
