"""The floor for the benchmark: a bare Flask endpoint under the same server and
settings that parses the same JSON body and returns {"cards": []}."""
from flask import Flask, jsonify, request

app = Flask(__name__)


@app.post("/cds-services/<service_id>")
def floor(service_id: str):
    request.get_json(force=True)
    return jsonify({"cards": []})


@app.get("/healthz")
def healthz():
    return jsonify({"status": "ok"})
