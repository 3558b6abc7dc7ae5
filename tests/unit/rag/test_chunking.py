"""Section chunks: what the index embeds and what a search hands back."""

from __future__ import annotations

from agentops.rag.runbooks import MAX_CHUNK_WORDS, chunk_runbook, load_runbooks

from .conftest import RUNBOOKS


def test_every_chunk_starts_with_title_and_section_and_sits_inside_its_section() -> None:
    for runbook in load_runbooks(RUNBOOKS):
        chunks = chunk_runbook(runbook)
        assert {c.section for c in chunks} == {s.name for s in runbook.sections}
        for chunk in chunks:
            prefix = f"{runbook.meta.title} — {chunk.section}\n\n"
            assert chunk.text.startswith(prefix)
            assert chunk.section_text.startswith(prefix)
            # a table row comes with its header, so compare line by line
            for line in chunk.text[len(prefix) :].splitlines():
                assert line in chunk.section_text


def test_list_items_and_table_rows_are_chunks_of_their_own() -> None:
    (incident_response,) = [r for r in load_runbooks(RUNBOOKS) if r.stem == "incident_response"]
    chunks = chunk_runbook(incident_response)
    escalation = [c.text for c in chunks if c.section == "Escalation"]
    # each matrix row is findable on its own, under the table's header
    security = [t for t in escalation if "Security concern" in t and "Engineering manager" not in t]
    assert security and all("| Condition | Escalate to |" in t for t in security)
    remediation = [c.text for c in chunks if c.section == "Remediation"]
    assert any(t.endswith("`retrain_model`, `scale_infrastructure`.") for t in remediation)


def test_long_sections_are_split_so_the_model_reads_all_of_them() -> None:
    (drift,) = [r for r in load_runbooks(RUNBOOKS) if r.stem == "model_drift"]
    checks = drift.section("Checks")
    assert checks is not None and len(checks.body.split()) > MAX_CHUNK_WORDS
    parts = chunk_runbook(drift, max_words=60)
    check_parts = [c for c in parts if c.section == "Checks"]
    assert len(check_parts) > 2
    # every word of the section is in some chunk
    covered = " ".join(c.text for c in check_parts)
    assert all(word in covered for word in checks.body.split())
