"""`python -m scaling.vllm_simulator --port 8001 ...`: one simulator until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from scaling.vllm_simulator import ConfigError, SimulatorConfig, VllmSimulator

_DEFAULTS = SimulatorConfig()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m scaling.vllm_simulator",
        description="Serve a vLLM-compatible simulator (OpenAI API and vLLM metrics, no model).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000, help="0 picks a free port")
    parser.add_argument("--model", default=_DEFAULTS.model, help="the served model name")
    parser.add_argument("--ttft-ms", type=float, default=_DEFAULTS.ttft_ms)
    parser.add_argument(
        "--itl-ms", type=float, default=_DEFAULTS.itl_ms, help="inter-token latency"
    )
    parser.add_argument(
        "--prefill-tokens-per-s", type=float, default=_DEFAULTS.prefill_tokens_per_s
    )
    parser.add_argument("--error-rate", type=float, default=_DEFAULTS.error_rate)
    parser.add_argument("--max-num-seqs", type=int, default=_DEFAULTS.max_num_seqs)
    parser.add_argument(
        "--latency-factor",
        type=float,
        default=_DEFAULTS.latency_factor,
        help="multiplies the TTFT and the inter-token latency (a slower canary: 1.5)",
    )
    parser.add_argument(
        "--ttft-sigma",
        type=float,
        default=_DEFAULTS.ttft_sigma,
        help="sigma of the per-sequence lognormal multiplier of --ttft-ms (0: fixed)",
    )
    parser.add_argument(
        "--itl-sigma",
        type=float,
        default=_DEFAULTS.itl_sigma,
        help="sigma of the per-sequence lognormal multiplier of --itl-ms (0: fixed)",
    )
    parser.add_argument("--default-max-tokens", type=int, default=_DEFAULTS.default_max_tokens)
    parser.add_argument(
        "--legacy-metric-names",
        action="store_true",
        help="vllm:gpu_cache_usage_perc and vllm:time_per_output_token_seconds",
    )
    parser.add_argument(
        "--seed", type=int, default=None, help="seed of the error and latency draws"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        config = SimulatorConfig(
            model=args.model,
            ttft_ms=args.ttft_ms,
            itl_ms=args.itl_ms,
            prefill_tokens_per_s=args.prefill_tokens_per_s,
            error_rate=args.error_rate,
            max_num_seqs=args.max_num_seqs,
            latency_factor=args.latency_factor,
            ttft_sigma=args.ttft_sigma,
            itl_sigma=args.itl_sigma,
            default_max_tokens=args.default_max_tokens,
            legacy_metric_names=args.legacy_metric_names,
            seed=args.seed,
        )
    except ConfigError as error:
        parser.error(str(error))

    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())
    simulator = VllmSimulator(config)
    simulator.start(args.host, args.port)
    # Callers wait for this line to know the server is up (and on which port).
    print(f"vLLM simulator serving {config.model} at {simulator.url}", flush=True)
    try:
        # A timed wait lets the signal handlers run promptly.
        while not stopping.wait(0.5):
            pass
    finally:
        simulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
