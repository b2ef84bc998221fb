"""The seed's satellite model server, instrumented with litetel.

Run it (with a gateway listening, see the repository README):

    LITETEL_ENDPOINT=http://127.0.0.1:8080 LITETEL_KEY=<hex key> LITETEL_DEVICE_ID=model-server-1 \
        uvicorn app:app --app-dir examples/fastapi_model_server

Without LITETEL_ENDPOINT the server records into its in-RAM ring buffer only.

Metrics, traces and logs are linked: each request is a server span (the middleware; it continues an incoming
``traceparent``), the inference a child span, the log records carry their trace and span ids, and the
latency histograms keep exemplars pointing at the span of a recent measurement.
"""

import asyncio
import os
import random
import time
from contextlib import asynccontextmanager

from fastapi import FastAPI, HTTPException

import litetel
from litetel.asgi import LitetelMiddleware

device = litetel.Device(
    os.environ.get("LITETEL_DEVICE_ID", "model-server-1"),
    resource={"service.name": "model-server", "deployment.environment": os.environ.get("ENV", "dev")},
    endpoint=os.environ.get("LITETEL_ENDPOINT") or None,
    key=bytes.fromhex(os.environ["LITETEL_KEY"]) if os.environ.get("LITETEL_KEY") else None,
    # A server is not a microcontroller: room for a long outage of frames carrying spans and logs
    # (the device default of 16 KiB fills in seconds here, and a full buffer drops frames, counted).
    buffer=litetel.RingBuffer(capacity=int(os.environ.get("LITETEL_BUFFER_BYTES", 1 << 20))),
)
meter = device.meter("model_server")
tracer = device.tracer("model_server")
log = device.logger("model_server")

# The seed's custom metrics, same names as its OpenTelemetry version.
inference_duration = meter.histogram(
    "model.inference.duration",
    unit="s",
    description="Model inference duration in seconds",
    boundaries=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
)
inference_counter = meter.counter("model.inferences.total", description="Total number of inferences")


class Model:
    """Stands in for a real model: a little async work whose duration varies."""

    async def predict(self, data):
        await asyncio.sleep(random.uniform(0.0005, 0.003))
        values = data.get("values", [])
        if not values:
            raise ValueError("no values to predict from")
        return {"prediction": sum(values) / len(values)}


model = Model()


@asynccontextmanager
async def lifespan(app):
    if os.environ.get("LITETEL_ENDPOINT"):
        device.start(interval_s=float(os.environ.get("LITETEL_INTERVAL_S", "10")))
    yield
    if os.environ.get("LITETEL_ENDPOINT"):
        device.stop()  # collects and flushes one last time


app = FastAPI(lifespan=lifespan)
app.add_middleware(LitetelMiddleware, device=device)


@app.post("/deployments/{deployment_id}/compute")
async def inference(deployment_id: str, data: dict):
    attrs = {"deployment_id": deployment_id, "model_name": "my_model"}
    start = time.perf_counter()
    with tracer.span("inference", {"deployment.id": deployment_id, "model.name": "my_model"}) as span:
        try:
            result = await model.predict(data)
        except ValueError as exc:
            span.set_status_error(str(exc))
            log.error("inference failed", {"deployment.id": deployment_id, "error": str(exc)})
            result = None
        else:
            # inside the span: the histogram keeps this measurement's trace as an exemplar
            inference_duration.record(time.perf_counter() - start, attrs)
            log.info("inference done", {"deployment.id": deployment_id, "prediction": result["prediction"]})
    if result is None:
        inference_counter.add(1, {"deployment_id": deployment_id, "status": "error"})
        raise HTTPException(status_code=422, detail="no values to predict from")
    inference_counter.add(1, {"deployment_id": deployment_id, "status": "success"})
    return result
