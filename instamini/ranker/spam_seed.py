"""A tiny labelled corpus that the spam model learns when it has learned nothing yet.

So that a fresh install already tells "free followers, click here" from "lovely photo!".
It is deliberately small and obvious: the model's real knowledge comes from the reports
that admins resolve (each one a labelled text), which soon outweigh these lines.
"""

SPAM = (
    "free followers click here",
    "get 10000 free followers now",
    "buy cheap followers and likes",
    "buy cheap watches online best price",
    "click the link in my bio to win",
    "you won a free iphone claim your prize now",
    "earn money fast from home guaranteed",
    "make $500 a day working from home click here",
    "check my profile for free gift cards",
    "cheap likes cheap views cheap followers",
    "dm me to earn crypto daily profit guaranteed",
    "invest in bitcoin now double your money",
    "limited offer act now free trial",
    "follow for follow free likes click link",
    "hot singles in your area click here",
    "promote your account buy real followers cheap",
    "win a free vacation click to claim",
    "lose weight fast with this one trick buy now",
    "free giveaway click the link to enter now",
    "visit our website for the best deals discount",
    "casino bonus free spins sign up now",
    "get rich quick no experience needed click",
    "cheap loans instant approval apply now",
    "send me a message to earn money online",
)

HAM = (
    "lovely photo!",
    "see you tomorrow",
    "what a beautiful sunset",
    "happy birthday, have a great day",
    "this made me smile",
    "where was this taken?",
    "miss you, call me later",
    "congratulations on the new job",
    "your dog is so cute",
    "great shot, love the colours",
    "thanks for coming yesterday",
    "are we still on for dinner tonight?",
    "haha that is so funny",
    "looks delicious, what recipe is it?",
    "beautiful view from the mountain",
    "i love this song",
    "good luck with the exam",
    "can't wait to see you next week",
    "the kids had so much fun at the beach",
    "nice one, well done",
    "how was your trip?",
    "running late, be there in ten minutes",
    "welcome home!",
    "that cake looks amazing",
)
