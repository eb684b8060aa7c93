"""The words of the Report a need page, in one place: residents of any reading level use the
form, so tests/test_plain_language.py measures these (aiming at a reading age of 9 to 11)."""

from __future__ import annotations

from needsmap.voice import needs

INTRO = ("Tell us what people near you need and are not getting. It takes about a minute and "
         "you do not need an account.")
PRIVACY_LINK = "How we use and keep your report (privacy notice)"
SUCCESS = ("Thank you: your report has been received (reference {ref}). A moderator reads every "
           "report before it goes on the map. Keep the reference. With it you can see what "
           "happens to your report, see what we hold about it, or ask us to delete it.")
TRACK = "Track my report: see what was decided about it"
PRIVACY_AFTER = "Privacy notice: how long we keep reports, and your rights"
SEE_OTHERS = "See needs other residents have reported"
ANOTHER = "Report another need"

WHERE = "1. Where is the need?"
SHOW_BY = "Show the place by"
BY_POSTCODE, BY_MAP = "Typing a postcode", "Clicking on the map"
MAP_TITLE = ("Map to click the place of the need on. To give a postcode instead, choose "
             "'Typing a postcode' above.")
CHOSEN = ("You chose a place in the small area **{name}** ({code}). On public maps your report "
          "will be counted in that area, at its middle.")
CLICK_HINT = ("Click the map where the need is (zoom with the + and − buttons; hover to see ward "
              "names).")

ABOUT = "2. About the need"
POSTCODE = "Postcode of the place (for example M32 9AF)"
CATEGORY, CATEGORY_PLACEHOLDER = "What kind of need is it?", "Choose one"
DESCRIBE = "Describe the need"
DESCRIBE_PLACEHOLDER = ("For example: the youth club shut last year. Now teenagers have nowhere "
                        "to go in the evening.")
DESCRIBE_HELP = (f"Up to {needs.MAX_DESCRIPTION:,} characters. Please do not write names, "
                 "addresses or phone numbers here.")
PEOPLE = "How many people does it affect, roughly? (you can leave this out)"
AGES, AGES_PLACEHOLDER = "Which age groups? (you can leave this out)", "Choose any that fit"
CONTACT = "Your email or phone number, if we may contact you (you can leave this out)"
CONTACT_HELP = f"Up to {needs.MAX_CONTACT} characters."
ABOUT_YOU = "About you (you can leave this out)"
ABOUT_YOU_NOTE = ("This helps us see whose voices are missing. We keep it apart from your "
                  "report. We only show it as totals for many people. We delete it with your "
                  "contact details. You can leave it all empty.")
ABOUT_YOU_CONSENT = "I agree that you may keep my answers below for this"
YOUR_AGE = "Your age (you can leave this out)"
NOT_SAY = "Prefer not to say"
SEND = "Send report"

# What a resident is told when the report is not sent; each says what to do.
NOT_SENT = "your report was not sent yet"
OR_MAP = "{problem}, or click on the map to show the place"
ABOUT_YOU_NO_CONSENT = "tick 'I agree' under About you to keep those answers, or leave them empty"
NO_POINT = "click the map to show where the need is, or choose 'Typing a postcode'"
BUSY = ("Many reports have reached us in the last few minutes, so the app is taking a short "
        "pause. Please try again in a few minutes: your text is still here.")
