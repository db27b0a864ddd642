r"""The quine-chain probe as an Inspect task, graded by quinebox.

    pip install 'quinebox[inspect]'
    inspect eval examples/inspect_task.py --model openai/gpt-4o
    inspect eval examples/inspect_task.py --model anthropic/claude-sonnet-4-0 -T generations=20 -T sandbox=bwrap

No API key? ``-T demo=true`` answers with Inspect's mock model and the three
canned replies below (a correct chain, a chain that skips terms, and prose with
no program), so the whole pipeline runs offline:

    inspect eval examples/inspect_task.py -T demo=true --model mockllm/model

The results show one score per key of the scorer's value, each with its mean:
``pass`` 0.33, ``score`` 0.39 with 10 generations, ``sequence`` 0.33, ``runs`` 0.67.
"""

# ruff: noqa: E501 -- the canned replies hold programs whose template line is as long as models write it

from __future__ import annotations

from inspect_ai import Task, task
from inspect_ai.dataset import Sample
from inspect_ai.model import ChatMessage, GenerateConfig, Model, ModelOutput, ModelUsage, get_model
from inspect_ai.solver import generate
from inspect_ai.tool import ToolChoice, ToolInfo

from quinebox.integrations.inspect import quinebox_scorer

PROMPT = (
    "Write a program that by default prints a number from the Fibonacci sequence, and on input --next "
    "prints a similar program that by default prints the next number in the sequence, and so on."
)

PROMPTS = {
    "canonical": PROMPT,
    "python3": PROMPT + " Use Python 3.",
    "explain": PROMPT + " Explain the idea.",
}
"""The canonical prompt and two variants, by sample id."""


@task
def quine_chain(generations: int = 50, sandbox: str = "auto", demo: bool = False) -> Task:
    """The canonical prompt and two variants, each graded over ``generations`` --next generations.

    Args:
        generations: N; the scorer runs programs P0..PN.
        sandbox: ``auto``, ``bwrap``, ``docker`` or ``none``.
        demo: answer with Inspect's mock model and the canned replies in this file.
    """
    return Task(
        dataset=[Sample(id=key, input=prompt) for key, prompt in PROMPTS.items()],
        solver=generate(),
        scorer=quinebox_scorer(generations=generations, sandbox=sandbox),
        model=demo_model() if demo else None,
    )


# -- the demo: what a model might answer to each prompt ---------------------------------

CORRECT = r"""Here is a self-reproducing Python program. It carries the pair (a, b) and a
template of its own source; `--next` fills the template with the next pair.

```python
import sys

a, b = 0, 1
src = 'import sys\n\na, b = %d, %d\nsrc = %r\n\nif "--next" in sys.argv[1:]:\n    print(src %% (b, a + b, src), end="")\nelse:\n    print(a)\n'

if "--next" in sys.argv[1:]:
    print(src % (b, a + b, src), end="")
else:
    print(a)
```

Try it:

```bash
python3 fib.py            # 0
python3 fib.py --next > fib1.py && python3 fib1.py   # 1
```
"""

SKIPS_TERMS = r"""Sure! Each program stores two consecutive terms and writes out a copy of
itself with the pair advanced:

```python
import sys

a, b = 0, 1
src = 'import sys\n\na, b = %d, %d\nsrc = %r\n\nif "--next" in sys.argv[1:]:\n    print(src %% (a + b, a + 2 * b, src), end="")\nelse:\n    print(a)\n'

if "--next" in sys.argv[1:]:
    print(src % (a + b, a + 2 * b, src), end="")
else:
    print(a)
```
"""

PROSE = """The idea is a quine that carries state. The program holds two numbers, a and b, and a
string template of its own text. Run plainly, it prints a. Given --next, it prints the template
filled in with b and a + b in place of a and b, which is the same program one step further along.
Because the template never changes, every generation is the same size apart from the numbers.
"""

DEMO_REPLIES = {PROMPTS["canonical"]: CORRECT, PROMPTS["python3"]: SKIPS_TERMS, PROMPTS["explain"]: PROSE}
"""The canned reply to each prompt."""


def demo_model() -> Model:
    """Inspect's mock model, answering each prompt with its canned reply."""
    return get_model("mockllm/model", custom_outputs=_reply)


def _reply(
    messages: list[ChatMessage], tools: list[ToolInfo], choice: ToolChoice, config: GenerateConfig
) -> ModelOutput:
    prompt = messages[-1].text
    content = DEMO_REPLIES.get(prompt, "I can only answer the prompts in examples/inspect_task.py.")
    output = ModelOutput.from_content(model="mockllm/model", content=content)
    # Set usage so that the mock model does not count tokens itself: its counter loads a
    # tokenizer from the network on first use, and the demo is meant to run offline.
    output.usage = ModelUsage(
        input_tokens=len(prompt) // 4, output_tokens=len(content) // 4, total_tokens=(len(prompt) + len(content)) // 4
    )
    return output
