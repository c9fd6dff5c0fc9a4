from adaptloop_trainer.packing import IGNORE, TokenisedExample, batch_schedule, pack


def _ex(n_prompt: int, n_answer: int) -> TokenisedExample:
    return TokenisedExample(list(range(1, n_prompt + n_answer + 1)), [IGNORE] * n_prompt + [7] * n_answer)


def test_rows_are_filled_longest_first_and_positions_restart_per_example() -> None:
    examples = [_ex(5, 5), _ex(3, 3), _ex(8, 4), _ex(2, 2)]
    rows = pack(examples, seq_len=16, pad_id=0)
    assert all(len(r.input_ids) == len(r.labels) == len(r.position_ids) == 16 for r in rows)
    assert [r.real_tokens for r in rows] == [12 + 4, 10 + 6]
    assert rows[0].position_ids == list(range(12)) + list(range(4))
    assert sum(r.real_tokens for r in rows) == 10 + 6 + 12 + 4


def test_small_data_gives_one_short_row() -> None:
    rows = pack([_ex(4, 4)] * 3, seq_len=256, pad_id=0)
    assert len(rows) == 1 and len(rows[0].input_ids) == 24 and rows[0].real_tokens == 24


def test_padding_is_never_learned() -> None:
    rows = pack([_ex(2, 3), _ex(2, 2), _ex(2, 2)], seq_len=10, pad_id=0)
    assert [r.real_tokens for r in rows] == [9, 4]
    assert rows[1].labels[4:] == [IGNORE] * 6 and rows[1].input_ids[4:] == [0] * 6


def test_schedule_is_fixed_by_the_seed() -> None:
    assert batch_schedule(5, batch_size=2, steps=6, seed=1) == batch_schedule(5, batch_size=2, steps=6, seed=1)
    assert batch_schedule(5, batch_size=2, steps=6, seed=1) != batch_schedule(5, batch_size=2, steps=6, seed=2)


def test_a_logged_chat_prompt_trains_on_what_the_engine_saw_not_a_conversation_in_a_conversation() -> None:
    from adaptloop_scenarios.tiny_tokenizer import train_tokenizer
    from adaptloop_trainer.packing import is_rendered_conversation, prompt_text, tokenise
    from adaptloop_trainer.snapshot import Example

    tokenizer = train_tokenizer(["Is the alert on the jump host real?", "It is real; isolate the host."] * 20,
                                vocab_size=300)
    question = "Is the alert on the jump host real?"
    # inference.logs carries a chat request's prompt rendered by the model's chat template
    logged = tokenizer.apply_chat_template([{"role": "user", "content": question}], tokenize=False,
                                           add_generation_prompt=True)
    assert is_rendered_conversation(tokenizer, logged) and not is_rendered_conversation(tokenizer, question)
    assert prompt_text(tokenizer, logged) == logged == prompt_text(tokenizer, question)
    raw = tokenise(tokenizer, Example(question, "It is real.", "k", "train"), seq_len=128)
    from_log = tokenise(tokenizer, Example(logged, "It is real.", "k", "train"), seq_len=128)
    assert from_log == raw
