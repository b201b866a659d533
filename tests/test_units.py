"""The pure parts of listening and speaking, on fakes of our own interfaces: no models,
milliseconds each. (The same parts run on the real models in test_voice / test_turn.)"""

from __future__ import annotations

import numpy as np

from server.listen.end_of_turn import TurnDecision, TurnSettings
from server.listen.segment import Event, Segmenter, VadSettings
from server.reason.answer.sentences import SentenceSplitter
from server.speak.transmit import Speaker, Spoken, head_phrase, pieces, trim_silence_after
from tests.fakes import FakeVad, quiet, tone

# --- the segmenter state machine ------------------------------------------------------


def segmenter(**kw: int) -> Segmenter:
    return Segmenter(VadSettings(**kw), vad=FakeVad())


def test_speech_starts_after_the_start_window_and_keeps_the_preroll() -> None:
    seg = segmenter(start_ms=96, preroll_ms=300)
    assert seg.feed(quiet(500)) == []
    events = seg.feed(tone(64))
    assert events == [] and not seg.speaking  # 2 windows: under 96 ms
    events = seg.feed(tone(64))
    assert [e for e, _ in events] == [Event.SPEECH_STARTED] and seg.speaking
    # The pre-roll (some silence before the voice) is the utterance's start.
    assert seg.utterance_ms >= 96


def test_a_short_pause_does_not_end_the_turn_and_the_silence_window_does() -> None:
    seg = segmenter(silence_ms=500)
    seg.feed(tone(400))
    assert seg.feed(quiet(300)) == [] and seg.silence_ms >= 256
    assert seg.feed(tone(200)) == [] and seg.silence_ms == 0  # speech resumed
    events = seg.feed(quiet(600))
    assert [e for e, _ in events] == [Event.SPEECH_ENDED] and not seg.speaking
    utterance = events[0][1]
    assert utterance is not None
    # Trailing silence trimmed to ~160 ms: the turn's audio is the speech, not the wait.
    assert len(utterance) / 16_000 < 0.4 + 0.3 + 0.2 + 0.3 + 0.2


def test_a_learner_who_never_stops_is_cut_at_the_longest_utterance() -> None:
    seg = segmenter(max_ms=1000)
    events = seg.feed(tone(1500))
    kinds = [e for e, _ in events]
    assert kinds[0] is Event.SPEECH_STARTED and Event.FORCED_END in kinds


def test_a_new_utterance_can_start_in_the_same_feed_as_the_last_one_ended() -> None:
    seg = segmenter(silence_ms=200)
    audio = [tone(300), quiet(300), tone(300)]
    import numpy as np

    kinds = [e for e, _ in seg.feed(np.concatenate(audio))]
    assert kinds == [Event.SPEECH_STARTED, Event.SPEECH_ENDED, Event.SPEECH_STARTED]


def test_end_now_ends_the_turn_with_the_utterance_so_far() -> None:
    seg = segmenter(silence_ms=2000)
    seg.feed(tone(500))
    seg.feed(quiet(250))
    utterance = seg.end_now()
    assert not seg.speaking and 0.5 <= len(utterance) / 16_000 < 1.0
    assert seg.feed(quiet(3000)) == []  # nothing left to end


def test_keep_last_restarts_the_utterance_near_its_end() -> None:
    seg = segmenter()
    seg.feed(tone(2000))
    seg.keep_last(600)
    assert 550 <= seg.utterance_ms <= 650 and seg.voiced_ms <= seg.utterance_ms


# --- the end-of-turn decision ---------------------------------------------------------


def test_the_end_of_turn_model_is_asked_once_per_pause_and_again_after_speech() -> None:
    decision = TurnDecision(TurnSettings("smart", short_ms=200, long_ms=2000))
    assert not decision.should_ask(True, 100)  # too soon
    assert decision.should_ask(True, 224)
    assert not decision.should_ask(True, 256)  # asked already at this checkpoint
    assert not decision.should_ask(True, 0)  # speech resumed: a new pause follows
    assert decision.should_ask(True, 224)
    assert decision.ends_turn(0.9) and not decision.ends_turn(0.1)


def test_the_plain_timer_never_asks_the_model() -> None:
    decision = TurnDecision(TurnSettings("silence"))
    assert not any(decision.should_ask(True, ms) for ms in range(0, 3000, 32))


# --- sentences, for verification and speech -------------------------------------------


def test_the_splitter_hands_on_each_sentence_as_soon_as_it_ends() -> None:
    splitter = SentenceSplitter()
    out: list[str] = []
    for piece in ["Llama 3.1 came", " out in 2024. It", " was **open**", ". Then"]:
        out += splitter.feed(piece)
    assert out == ["Llama 3.1 came out in 2024.", "It was open."]
    assert splitter.pending == "Then"
    assert splitter.flush() == ["Then"] and splitter.flush() == []


def test_numbers_and_ranges_do_not_end_a_sentence() -> None:
    splitter = SentenceSplitter()
    assert splitter.feed("It ships in Q1-Q2 2026 with 3.5 times the context. ") == [
        "It ships in Q1-Q2 2026 with 3.5 times the context."
    ]


def test_a_long_first_sentence_starts_with_a_short_phrase() -> None:
    # After a clause that ends early, else before a word that starts a phrase.
    assert head_phrase(
        "Meta's new frontier model, code-named Avocado, was expected to launch in spring."
    ) == ("Meta's new frontier model,", "code-named Avocado, was expected to launch in spring.")
    assert head_phrase("Avocado was expected to launch in the spring of next year.") == (
        "Avocado was expected",
        "to launch in the spring of next year.",
    )
    # Never right after another such word: "might | have" would split one phrase.
    assert head_phrase("Future releases might have more restrictions.") == (
        "Future releases",
        "might have more restrictions.",
    )
    # Short sentences are said whole.
    assert head_phrase("Avocado is a frontier model.") == ("Avocado is a frontier model.", "")


def test_a_sentence_with_no_short_phrase_is_cut_later_or_not_at_all() -> None:
    assert head_phrase(
        "Reports surfaced that Meta's superintelligence lab was building a new model."
    ) == ("Reports surfaced", "that Meta's superintelligence lab was building a new model.")
    sentence = "Despite being technically impressive, Llama 4 didn't generate much excitement."
    head, tail = head_phrase(sentence)
    assert (head, tail) == (
        "Despite being technically impressive,",
        "Llama 4 didn't generate much excitement.",
    )
    assert head_phrase(
        "Stability AI's founder Emad Mostaque resigned abruptly last March amid pressure."
    ) == ("Stability AI's founder Emad Mostaque resigned", "abruptly last March amid pressure.")
    # Nowhere a phrase starts within ten words: said whole.
    whole = "Meta's chief AI officer Alexandr Wang joined Meta last June."
    assert head_phrase(whole) == (whole, "")
    # Two words are enough for the rest; four for a whole sentence.
    assert head_phrase("Llama 4's reception was lukewarm.") == (
        "Llama 4's reception",
        "was lukewarm.",
    )
    assert head_phrase("Avocado was delayed again.") == ("Avocado was delayed again.", "")


def test_a_long_sentence_after_the_first_is_synthesised_in_phrases() -> None:
    sentence = (
        "We could have a polyfill or a translation layer of some sort to help here, but we "
        "wouldn't want to use it unnecessarily, so we will need separate builds for Web and WASI."
    )
    parts = pieces(sentence)
    assert parts == [
        "We could have a polyfill or a translation layer of some sort",
        "to help here, but we wouldn't want to use it unnecessarily,",
        "so we will need separate builds for Web and WASI.",
    ]
    assert " ".join(parts) == sentence
    short = "Meta giving away comparable models for free is generous."
    assert pieces(short) == [short]


def test_a_head_keeps_little_of_the_silence_after_it() -> None:
    rate = 22_050
    tone = (8000 * np.sin(np.arange(rate // 5) / 3)).astype("<i2")  # 200 ms
    pcm = np.concatenate([tone, np.zeros(rate // 5, "<i2")]).tobytes()  # + 200 ms silence
    kept_ms = 1000 * len(trim_silence_after(pcm, rate)) / 2 / rate
    assert 235 <= kept_ms <= 250
    assert trim_silence_after(bytes(4000), rate) == bytes(4000)  # all silence: left alone


# --- what the learner heard -----------------------------------------------------------


def speaker_with(*spoken: tuple[str, float]) -> Speaker:
    speaker = Speaker.__new__(Speaker)  # only its timeline: no TTS, no loop
    speaker.timeline, speaker.sent_ms = [], 0.0
    for text, ms in spoken:
        speaker.timeline.append(Spoken(text, speaker.sent_ms, ms))
        speaker.sent_ms += ms
    return speaker


def test_heard_is_whole_sentences_then_the_words_of_the_cut_one() -> None:
    speaker = speaker_with(("Avocado is a model.", 1000), ("It was delayed to next year.", 1200))
    assert speaker.heard_text(500, 0) == "Avocado is …"
    assert speaker.heard_text(1600, 0) == "Avocado is a model. It was delayed …"
    assert speaker.heard_text(None, 9000) == "Avocado is a model. It was delayed to next year."
    assert speaker.heard_text(0, 0) == ""


def test_the_client_report_wins_over_the_clock_but_never_past_what_was_sent() -> None:
    speaker = speaker_with(("One two three four.", 1000))
    assert speaker.heard_text(250, 900) == "One …"
    assert speaker.heard_text(5000, 0) == "One two three four."


# --- whether a spoken turn waits for the LLM ------------------------------------------


def test_spoken_turns_try_the_llm_rarely_until_it_is_used_then_every_turn() -> None:
    from server.reason.answer.respond import LlmOdds

    odds = LlmOdds(window=4)
    assert not odds.worth_waiting()
    tries = [odds.probe_due() for _ in range(8)]
    assert tries == [False, False, False, True] * 2  # a try beside every 4th turn
    odds.record(True)  # the try's answer was verified in time
    assert odds.worth_waiting()
    for _ in range(3):
        odds.record(False)
    assert odds.worth_waiting()  # one of the last four was used
    odds.record(False)  # four failures in a row: back to trying aside
    assert not odds.worth_waiting()
