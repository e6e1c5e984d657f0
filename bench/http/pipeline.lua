-- wrk script: 16 pipelined requests a write, for the URL's path (wrk.path),
-- each connection sending its next 16 once all 16 responses are in.
--   wrk -t1 -c256 -d5s -s pipeline.lua http://127.0.0.1:8080/plaintext
init = function(args)
   local r = {}
   for i = 1, 16 do r[i] = wrk.format(nil) end
   req = table.concat(r)
end
request = function() return req end
