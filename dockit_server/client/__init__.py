"""The ``dockit`` admin commands: a command-line client of the Admin API.

They never open the database (``dockit bootstrap-admin`` in
:mod:`dockit_server.bootstrap_admin` is the one exception, for the first admin):

* :mod:`.http`: a small urllib client with timeouts and typed errors;
* :mod:`.credentials`, :mod:`.docker_config`, :mod:`.credential_helper`: who the commands act
  as (flags and environment, then what ``docker login`` stored);
* :mod:`.passwords`: prompts and ``--password-stdin``; :mod:`.output`: tables or JSON;
* :mod:`.commands`: the subcommands; :mod:`.errors`: exit codes.
"""
