"""Running the `docflow` client as a user would: a real process, in a pseudo-terminal or not."""

import asyncio
import contextlib
import os
import pty
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field


def client_env(url: str, key: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCFLOW_")}
    env.update(DOCFLOW_URL=url, DOCFLOW_API_KEY=key)
    return env


@dataclass
class Finished:
    code: int
    stdout: str
    stderr: str


async def docflow(env: dict[str, str], *args: str, within: float = 30) -> Finished:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.cli",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), within)
    assert process.returncode is not None
    return Finished(process.returncode, out.decode(), err.decode())


@dataclass
class Terminal:
    """A `docflow` process whose stdin, stdout and stderr are a pseudo-terminal."""

    process: asyncio.subprocess.Process
    master: int
    screen: str = ""
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    def _readable(self) -> None:
        try:
            chunk = os.read(self.master, 4096)
        except OSError:  # EIO: the child closed its side
            chunk = b""
        if not chunk:
            asyncio.get_running_loop().remove_reader(self.master)
        self.screen += chunk.decode(errors="replace").replace("\r\n", "\n")
        self._changed.set()

    async def expect(self, text: str, *, within: float = 30) -> None:
        async def appears() -> None:
            while text not in self.screen:
                self._changed.clear()
                await self._changed.wait()

        try:
            await asyncio.wait_for(appears(), within)
        except TimeoutError:
            raise AssertionError(f"{text!r} not shown; the screen:\n{self.screen}") from None

    async def exit_code(self, *, within: float = 30) -> int:
        return await asyncio.wait_for(self.process.wait(), within)


@contextlib.asynccontextmanager
async def terminal(env: dict[str, str], *args: str) -> AsyncIterator[Terminal]:
    master, slave = pty.openpty()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.cli",
        *args,
        env=env,
        stdin=slave,
        stdout=slave,
        stderr=slave,
    )
    os.close(slave)
    term = Terminal(process, master)
    asyncio.get_running_loop().add_reader(master, term._readable)
    try:
        yield term
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        with contextlib.suppress(ValueError, OSError):
            asyncio.get_running_loop().remove_reader(master)
        os.close(master)


#: A two-node workflow the CLI tests apply and run.
GREETER = {
    "name": "greeter",
    "nodes": [
        {"id": "start", "type": "trigger", "position": 0, "config": {}},
        {"id": "hello", "type": "set", "position": 1, "config": {"values": {"x": "hi"}}},
    ],
}
