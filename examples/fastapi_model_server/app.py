"""The seed's satellite model server, instrumented with litetel.

Run it (with a gateway listening, see the repository README):

    LITETEL_ENDPOINT=http://127.0.0.1:8080 LITETEL_KEY=<hex key> LITETEL_DEVICE_ID=model-server-1 \
        uvicorn app:app --app-dir examples/fastapi_model_server

Without LITETEL_ENDPOINT the server records into its in-RAM ring buffer only.
"""

import asyncio
import os
import random
import time
from contextlib import asynccontextmanager

from fastapi import FastAPI

import litetel
from litetel.asgi import LitetelMiddleware

device = litetel.Device(
    os.environ.get("LITETEL_DEVICE_ID", "model-server-1"),
    resource={"service.name": "model-server", "deployment.environment": os.environ.get("ENV", "dev")},
    endpoint=os.environ.get("LITETEL_ENDPOINT") or None,
    key=bytes.fromhex(os.environ["LITETEL_KEY"]) if os.environ.get("LITETEL_KEY") else None,
)
meter = device.meter("model_server")

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
        return {"prediction": sum(values) / len(values) if values else 0.0}


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
    start = time.perf_counter()
    result = await model.predict(data)
    inference_duration.record(time.perf_counter() - start, {"deployment_id": deployment_id, "model_name": "my_model"})
    inference_counter.add(1, {"deployment_id": deployment_id, "status": "success"})
    return result
