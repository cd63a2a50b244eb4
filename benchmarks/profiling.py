"""Where a fresh-token verify spends its time: cProfile (exact calls) and pyinstrument (sampled)."""

from __future__ import annotations

import cProfile
import io
import pstats

from okta_bearer.testing import LocalIssuer

from .verify import AUDIENCE, ISSUER


async def run(calls: int = 2000) -> None:
    """Profile ``calls`` fresh-token RS256 verifications with the token cache off."""
    issuer = LocalIssuer(ISSUER, AUDIENCE)
    tokens = [issuer.mint() for _ in range(calls)]
    async with issuer.verifier(token_cache_size=0) as verifier:
        await verifier.verify(tokens[0])

        profile = cProfile.Profile()
        profile.enable()
        for token in tokens:
            await verifier.verify(token)
        profile.disable()
        out = io.StringIO()
        stats = pstats.Stats(profile, stream=out).strip_dirs().sort_stats("tottime")
        stats.print_stats(18)
        print(f"## cProfile: {calls} fresh RS256 verifications, by own time")
        print()
        print("```")
        print(out.getvalue().strip())
        print("```")

        try:
            from pyinstrument import Profiler
        except ImportError:
            print("(pyinstrument not installed: pip install -e '.[bench]')")
        else:
            profiler = Profiler(interval=0.0001, async_mode="disabled")
            profiler.start()
            for token in tokens:
                await verifier.verify(token)
            profiler.stop()
            print()
            print(f"## pyinstrument: {calls} fresh RS256 verifications")
            print()
            print("```")
            print(profiler.output_text(unicode=False, color=False, show_all=False).strip())
            print("```")
        await verifier.aclose()
