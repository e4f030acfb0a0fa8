"""default_source builds what it is asked for: Aladdin never silently becomes the mock."""

from __future__ import annotations

import pytest

from orderalloc.sources import MockAladdin, default_source, describe_source
from orderalloc.sources.aladdin import AladdinClient, AladdinConfigError

FULL = {
    "ALADDIN_HOST": "acme.blackrock.com",
    "ALADDIN_API_KEY": "k",
    "ALADDIN_CLIENT_ID": "cid",
    "ALADDIN_CLIENT_SECRET": "secret",
}


class TestExplicit:
    """``default_source("aladdin")`` fails naming what is missing; ``"mock"`` is the mock."""

    @pytest.mark.parametrize(
        ("drop", "missing"),
        [
            ("ALADDIN_CLIENT_SECRET", "ALADDIN_CLIENT_SECRET"),
            ("ALADDIN_CLIENT_ID", "ALADDIN_CLIENT_ID"),
            ("ALADDIN_HOST", "ALADDIN_HOST"),
            ("ALADDIN_API_KEY", "ALADDIN_API_KEY"),
        ],
    )
    def test_partial_credentials_name_the_missing_variable(self, drop: str, missing: str) -> None:
        """Half the credentials: AladdinConfigError naming the missing variable."""
        env = {k: v for k, v in FULL.items() if k != drop}
        with pytest.raises(AladdinConfigError, match=missing):
            default_source("aladdin", env)

    def test_no_credentials(self) -> None:
        """None at all: the error names the host and both ways to authenticate."""
        with pytest.raises(AladdinConfigError) as info:
            default_source("aladdin", {})
        assert "ALADDIN_HOST" in str(info.value)
        assert "ALADDIN_USERNAME" in str(info.value)

    def test_complete_credentials(self) -> None:
        """Complete credentials: the client, one of it."""
        source = default_source("aladdin", FULL)
        assert isinstance(source, AladdinClient)
        source.close()

    def test_mock(self) -> None:
        """``"mock"`` is the mock even with credentials set."""
        assert isinstance(default_source("mock", FULL), MockAladdin)


class TestAuto:
    """``auto``: all credentials or none; half is an error; the choice is said on stderr."""

    def test_half_is_an_error(self) -> None:
        """A client id without its secret is not a reason to trade on the mock."""
        env = {k: v for k, v in FULL.items() if k != "ALADDIN_CLIENT_SECRET"}
        with pytest.raises(AladdinConfigError, match="ALADDIN_CLIENT_SECRET"):
            default_source(env)

    def test_says_its_choice_on_stderr(self, capsys: pytest.CaptureFixture[str]) -> None:
        """Every call writes which source it chose, and why, on stderr."""
        for env, chosen in (({}, "MockAladdin"), (FULL, "Aladdin at https://acme")):
            source = default_source("auto", env)
            assert chosen in capsys.readouterr().err
            assert chosen.split()[0] in describe_source(source)
            close = getattr(source, "close", None)
            if close is not None:
                close()
