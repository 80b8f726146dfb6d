/*  default_prompts.c: the prompts surge ships, so a demo or a quick test needs no dataset
    and no network (docs/workloads.md, "Default prompts").

    Written for this project, in three categories whose names a workload mix can use:
    chat (questions people ask an assistant), code (programming tasks) and summarization
    (a passage of original text to condense). Lengths vary on purpose, from a line to a
    few paragraphs, so input lengths are not all alike even without a length distribution.
*/
#include "plan/workload.h"

/* clang-format off */
static const default_prompt_t prompts[] = {
    /* ---- chat ---- */
    {"chat", "What is the difference between weather and climate? Answer in two short paragraphs."},
    {"chat", "I have eggs, spinach, half an onion and some feta. Suggest a quick dinner and walk me through it."},
    {"chat", "Explain to a ten-year-old why the sky is blue and sunsets are red."},
    {"chat", "My tomato plants have yellow leaves near the bottom. What are the likely causes and what should I check first?"},
    {"chat", "Give me a three-day itinerary for a first visit to a mid-sized European city with a river and an old town."},
    {"chat", "How does compound interest work? Show a worked example with 1000 saved at 5% for ten years."},
    {"chat", "What are good questions to ask at the end of a job interview for a backend engineering role?"},
    {"chat", "Write a polite email to a neighbour asking them to keep their dog from barking late at night."},
    {"chat", "Compare running and cycling for someone who wants to get fit after years of not exercising."},
    {"chat", "Why do we have leap years, and why is 1900 not one while 2000 was?"},
    {"chat", "Suggest five names for a small bakery that specialises in sourdough, with a sentence on each."},
    {"chat", "What should I pack for a two-night hike in the mountains in early autumn?"},
    {"chat", "Explain what inflation is and why central banks raise interest rates to fight it."},
    {"chat", "I keep procrastinating on a big report. Give me a practical plan for the next three days."},
    {"chat", "Describe how a bill becomes law in a parliamentary system, step by step."},
    {"chat", "What is the Doppler effect? Give two everyday examples."},
    {"chat", "Help me plan a birthday party for six children aged seven, indoors, with a budget of 100."},
    {"chat", "Write a short story of about 200 words about a lighthouse keeper who finds a message in a bottle."},
    {"chat", "What are the main arguments for and against a four-day working week?"},
    {"chat", "How do vaccines train the immune system? Keep it accurate but simple."},
    {"chat", "Translate into French and Spanish: 'The train leaves at seven, so we should have breakfast early.'"},
    {"chat", "Give me a beginner's weekly plan to learn to play the guitar with 20 minutes a day."},
    {"chat", "Why does bread go stale, and is keeping it in the fridge a good idea?"},
    {"chat", "What is the difference between a virus and a bacterium, and why do antibiotics only work on one of them?"},
    {"chat", "Write a limerick about a cat who is convinced it is the manager of a hardware store."},
    {"chat", "Explain the rules of chess castling, including the cases where it is not allowed."},
    {"chat", "How can a small team run a good retrospective after a project that went badly?"},
    {"chat", "What happens in the body during a night of sleep? Describe the sleep stages."},
    {"chat", "Recommend a reading order for someone new to science fiction, and say why each book is on the list."},
    {"chat", "How do noise-cancelling headphones work?"},
    {"chat", "A friend is moving abroad for work. Write a warm farewell message for a card signed by the whole office."},
    {"chat", "Explain the trolley problem and the main positions people take on it."},

    /* ---- code ---- */
    {"code", "Write a C function that reverses a singly linked list in place and returns the new head. Explain its complexity."},
    {"code", "In Python, write a function that returns the k most frequent words in a text, ignoring case and punctuation."},
    {"code", "Explain the difference between a mutex and a semaphore, with a short example of when to use each."},
    {"code", "Write a SQL query that returns, for each customer, their total spend in 2024 and their rank by spend, from tables customers(id, name) and orders(id, customer_id, amount, created_at)."},
    {"code", "Review this JavaScript and point out the bug: for (var i = 0; i < 3; i++) { setTimeout(() => console.log(i), 100); }"},
    {"code", "Write a bash script that finds the ten largest files under a directory given as its first argument and prints their sizes in human-readable form."},
    {"code", "Implement binary search in Go over a sorted slice of ints, returning the index or -1, and write a table-driven test for it."},
    {"code", "What is a race condition? Show one in a few lines of Java and fix it."},
    {"code", "Write a Rust function that parses a string like '12h30m15s' into a number of seconds, returning an error for bad input."},
    {"code", "Explain what a closure is in JavaScript, and give an example where it is genuinely useful."},
    {"code", "Design a REST API for a library system with books, members and loans. List the endpoints, methods and status codes."},
    {"code", "Write a Python class implementing an LRU cache with get and put in O(1), without using functools."},
    {"code", "Explain how a hash map handles collisions with separate chaining and with open addressing, and the trade-offs."},
    {"code", "Write a regular expression that matches ISO 8601 dates like 2024-03-09 and explain each part."},
    {"code", "Given a C program that segfaults only when compiled with optimisations, list the likely causes and how to find the bug."},
    {"code", "Write a Dockerfile for a small Python web service that runs as a non-root user and keeps the image small."},
    {"code", "Explain Big-O notation with examples of O(1), O(log n), O(n), O(n log n) and O(n^2) algorithms."},
    {"code", "Write a function in TypeScript that deep-merges two plain objects, where arrays in the second replace arrays in the first."},
    {"code", "How does garbage collection by reference counting differ from tracing collection? What problem does each have with cycles?"},
    {"code", "Write unit tests in pytest for a function is_valid_email(s) covering normal, edge and invalid cases."},

    /* ---- summarization: passages written for surge ---- */
    {"summarization", "Summarize the following passage in three sentences.\n\n"
     "The harbour town of Velmouth grew up around a single stone quay built by fishermen in the "
     "fourteenth century. For three hundred years its fortunes rose and fell with the herring, "
     "which arrived in vast shoals each autumn and vanished for years at a time without warning. "
     "When the railway reached the town in 1871, merchants began shipping fresh fish inland "
     "overnight, and for a generation Velmouth was rich. The boom ended when the shoals moved "
     "north for good in the 1920s. The town reinvented itself as a resort, turning net lofts into "
     "guest houses and the fish market into a concert hall, and today the quay that started it "
     "all is used mainly by pleasure boats and by children fishing for crabs with bacon on a string."},
    {"summarization", "Give a one-paragraph summary of this text for a busy manager.\n\n"
     "Our support team handled 14,200 tickets last quarter, 9% more than the quarter before. "
     "Median first response time improved from 3.1 hours to 1.8 hours after we introduced a "
     "rotating triage shift, but median resolution time rose slightly, from 26 to 29 hours, "
     "mostly because of a spike in billing questions after the pricing change in May. Customer "
     "satisfaction held steady at 92%. Two issues stand out: a third of billing tickets could have "
     "been avoided with clearer invoice wording, and weekend coverage remains thin, with weekend "
     "tickets waiting four times longer for a first answer. We propose rewriting the invoice "
     "template with the finance team and piloting a weekend rota with volunteers paid at the "
     "overtime rate."},
    {"summarization", "Summarize the key points of this passage as a bulleted list.\n\n"
     "Soil is not simply dirt. A handful of healthy garden soil holds more living organisms than "
     "there are people on Earth: bacteria, fungi, protozoa, nematodes, mites and earthworms, each "
     "feeding on the others or on dead plant matter. Fungal threads wrap around roots and trade "
     "minerals for sugars. Earthworms drag leaves underground and leave channels that let air and "
     "water in. When soil is dug over every year, these networks are torn apart and the organic "
     "matter that feeds them is exposed to the air and burns away faster. This is why many "
     "gardeners now prefer to spread compost on the surface and leave the digging to the worms."},
    {"summarization", "Condense this meeting record into action items with owners.\n\n"
     "Present: Amira, Jonas, Priya, Tom. Jonas reported that the staging cluster ran out of disk "
     "twice this week because old container images are never cleaned up; he will write a nightly "
     "clean-up job by Friday. Priya said the load test of the new search service showed latency "
     "doubling above 300 requests per second and asked for a profiling session; Tom agreed to pair "
     "with her on Wednesday. Amira reminded everyone that the security review is due at the end "
     "of the month and that two services still log full request bodies, which may include personal "
     "data; Jonas and Priya will each fix one. The next meeting moves to Thursday because of the "
     "public holiday."},
    {"summarization", "Summarize this in plain language for someone with no background in the subject.\n\n"
     "A queue forms whenever work arrives faster than it can be served, even for a short while. "
     "If requests arrive at random and a server can handle on average slightly more than arrive, "
     "the average waiting time still grows sharply as the load approaches the server's capacity: "
     "at half capacity a request waits about as long as one service time, at ninety percent it "
     "waits about nine, and at ninety-nine percent about ninety-nine. This is why systems that "
     "look healthy at moderate load can become unusable after only a small increase in traffic, "
     "and why engineers aim to run them well below their measured maximum rather than close to it."},
    {"summarization", "Write a two-sentence summary of this story.\n\n"
     "Every morning for eleven years, Mrs Ostrowska left a saucer of milk on her back step for a "
     "grey cat that never let her come closer than the garden gate. She named it Admiral because of "
     "the way it surveyed the street from the top of the wall. When she broke her hip in the winter "
     "and spent six weeks in hospital, her grandson took over the saucer, grumbling. On the day she "
     "came home, leaning on a frame and moving slowly up the path, Admiral jumped down from the wall, "
     "walked straight to her, and for the first time rubbed against her ankles, purring, as if he "
     "had been waiting to be introduced."},
    {"summarization", "Summarize the arguments on both sides of this debate in a short paragraph.\n\n"
     "The city council is divided over a plan to close the central avenue to private cars on "
     "weekdays. Supporters point to the pilot closure last summer, during which footfall in shops "
     "on the avenue rose by a fifth, air quality readings improved, and bus journeys across the "
     "centre became six minutes faster on average. Opponents argue that the pilot took place during "
     "school holidays, that traffic was pushed onto residential streets nearby, and that delivery "
     "firms and disabled drivers were not properly consulted. Both sides agree that the loading "
     "bays need redesigning, and a compromise allowing deliveries before ten in the morning is now "
     "being discussed."},
    {"summarization", "Summarize this product description in one sentence, then list its three main features.\n\n"
     "The Ferncastle K2 is a kettle for people who care about tea. Its temperature dial runs from "
     "60 to 100 degrees in five-degree steps, so green and white teas are not scalded, and a keep-warm "
     "mode holds the chosen temperature for up to thirty minutes. The body is double-walled "
     "stainless steel that stays cool to the touch, and the removable filter catches limescale. At "
     "1.2 litres it fills six mugs, and it boils a full load in just under four minutes. The base "
     "rotates fully, the cord tucks away underneath, and the whole kettle is designed to be repaired: "
     "the element, switch and lid hinge can each be replaced with a single screwdriver."},
    {"summarization", "Summarize the history described below in about fifty words.\n\n"
     "The first public lending library in the valley opened in 1852 in a single room above the "
     "corn exchange, with four hundred books donated by a retired schoolmaster. It was open two "
     "evenings a week and lent books only to subscribers who paid a penny a month. In 1890 a mill "
     "owner paid for a purpose-built reading room, and membership became free. The library survived "
     "a fire in 1923 that destroyed half its stock, and was rebuilt with money raised by the town's "
     "choirs and football clubs. Today it lends e-books and tools as well as books, and its oldest "
     "surviving volume, a scorched atlas, is displayed in a case by the door."},
    {"summarization", "Extract the main findings from this report excerpt and summarize them briefly.\n\n"
     "Over eighteen months we monitored energy use in forty homes before and after a package of "
     "retrofits: loft insulation, draught-proofing and a smart thermostat. Average heating energy "
     "fell by 23%, but the spread was wide, from 4% in homes that were already well insulated to "
     "41% in older terraced houses. Homes where occupants used the thermostat's schedule saved "
     "about a third more than those who left it on manual. Comfort improved too: the share of "
     "winter evenings with a living-room temperature below 18 degrees dropped from 31% to 9%. "
     "The payback period of the package, at current prices, ranged from three to eleven years."},
    {"summarization", "Summarize this incident report for an engineering audience.\n\n"
     "At 14:02 the payment service began returning errors for about 30% of requests. The on-call "
     "engineer was paged at 14:06 and found that one of three database replicas had fallen far "
     "behind after a large batch job, and that the service's read path kept routing queries to it "
     "because the health check only tested whether the replica accepted connections. At 14:21 the "
     "lagging replica was removed from the pool and errors stopped. No payment was lost, but 2,300 "
     "customers saw a failed checkout and some retried, creating duplicate pending orders that were "
     "cleaned up the next day. Follow-ups: make the health check include replication lag, and move "
     "the batch job to a dedicated replica."},
    {"summarization", "Summarize this passage, keeping every number.\n\n"
     "The annual migration of the arctic tern is the longest known of any animal. Birds that breed "
     "in Greenland and Iceland fly to the Weddell Sea off Antarctica and back each year, a round trip "
     "that tracking devices have measured at around 70,000 kilometres, because they do not fly in a "
     "straight line but follow winds in a great S-shaped path over the Atlantic. A tern can live for "
     "thirty years, so over its lifetime it may fly more than two million kilometres, roughly the "
     "distance to the Moon and back three times. Because it spends both summers in polar daylight, "
     "it sees more daylight each year than any other creature."},
    {"summarization", "Summarize this explanation in three bullet points.\n\n"
     "A large language model generates text one token at a time. For every new token it must read "
     "the keys and values computed for all earlier tokens, which are kept in a cache in the memory "
     "of the accelerator. Serving many requests at once makes good use of the hardware, because "
     "the model's weights are read once per step for the whole batch, but every request in the "
     "batch adds to the cache. When the cache is full, the server must either make new requests "
     "wait or evict a running one and recompute it later. That is why the time to the first token "
     "can jump suddenly when a server passes a certain load, even though each step takes only "
     "slightly longer."},
    {"summarization", "Write a short abstract for this description of an experiment.\n\n"
     "We asked 120 volunteers to learn twenty words of an invented language. Half studied the words "
     "in one session of forty minutes; the other half studied in four sessions of ten minutes spread "
     "over a week. Both groups were tested the day after their last session and again a month "
     "later. On the first test the groups scored almost the same, about fifteen words out of twenty. "
     "A month later the single-session group remembered on average seven words, and the spaced "
     "group twelve. Participants in the single-session group were also more confident than the "
     "spaced group that they would remember the words, which suggests that cramming feels more "
     "effective than it is."},
};
/* clang-format on */

const default_prompt_t *default_prompts(int *count_out)
{
    *count_out = (int)(sizeof prompts / sizeof prompts[0]);
    return prompts;
}
