"""ttom as a service: the HTTP job API (``ttom serve api``), its job store and its workers.

Layers inside the package (top to bottom, no circles):

- ``app``: the FastAPI application (``create_app``), ``/v1/videos`` in the convention of OpenAI's
  video API, which vLLM-Omni and SGLang Diffusion follow; ``schemas``: its request and response bodies;
- ``service``: the service without HTTP (submit, status, list, cancel, resume, events, assets);
- ``dispatcher``: hands queued jobs to free workers, requeues the jobs of dead ones;
- ``pools`` / ``ray_pool``: the workers: one in-process thread (embedded), or Ray actors (one per GPU);
- ``runner``: one attempt at one job: runs or resumes the agent graph on the job's thread;
- ``store`` / ``repository`` / ``models``: the jobs and their progress events (SQLite or PostgreSQL);
- ``progress``: a job's stage and percent from the agent's progress events;
- ``client``: a small HTTP client of a running service (the MCP server and the LangChain tool use it);
- ``bench``: the load test and the worker-scaling benchmark (``ttom bench serve``).
"""
