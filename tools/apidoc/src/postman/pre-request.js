// Runs before every request of this collection.
// 1. Access token (OAuth 2.0 client credentials). The collection's auth is OAuth 2.0 with
//    "Current token" {{access_token}}; this script fills it (and renews it 60 s before it
//    expires), so every request works without clicking "Get New Access Token" (which works too).
// 2. Submit: a fresh tracking_number per send, unless auto_tracking_number is "false"
//    (send the same one again to see the safe retry: 200, same policy).
// 3. The request signature of write calls, as the contract defines it:
//    signature = lowercase_hex(MD5(api_token_key + tracking_number + premium_amount))
//    premium_amount: the body's (Submit), else the premium of the delivery's policy
//    (the variable premium_amount, saved by Submit and by the control tower reads).
const cryptoJs = require('crypto-js');
const path = pm.request.url.getPath();
const isPublic = path.endsWith('/oauth/token') || path.endsWith('/openapi.json');

if (!isPublic) {
    const token = pm.collectionVariables.get('access_token');
    const expiresAt = Number(pm.collectionVariables.get('access_token_expires_at') || 0);
    if (!token || Date.now() > expiresAt - 60000) {
        const basic = cryptoJs.enc.Base64.stringify(cryptoJs.enc.Utf8.parse(
            pm.variables.get('client_id') + ':' + pm.variables.get('client_secret')));
        pm.sendRequest({
            url: pm.variables.get('token_url'),
            method: 'POST',
            header: [
                { key: 'Authorization', value: 'Basic ' + basic },
                { key: 'Content-Type', value: 'application/x-www-form-urlencoded' }
            ],
            body: { mode: 'urlencoded', urlencoded: [{ key: 'grant_type', value: 'client_credentials' }] }
        }, function (err, res) {
            if (err || res.code !== 200) {
                console.error('token request failed', err || res.text());
                return;
            }
            const t = res.json();
            pm.collectionVariables.set('access_token', t.access_token);
            pm.collectionVariables.set('access_token_expires_at', String(Date.now() + t.expires_in * 1000));
        });
    }
}

// A claim's incident time: now (it may be neither in the future nor before the policy).
pm.variables.set('incident_time', new Date().toISOString());

if (pm.request.method === 'POST' && path.endsWith('/sme-deliveries')
        && pm.variables.get('auto_tracking_number') !== 'false') {
    pm.collectionVariables.set('tracking_number', 'PM-' + Date.now());
}

const raw = pm.request.body && pm.request.body.mode === 'raw' ? pm.variables.replaceIn(pm.request.body.raw) : '';
let body = null;
try { body = raw ? JSON.parse(raw) : null; } catch (e) { body = null; }
if (body && typeof body === 'object' && 'signature' in body && path.includes('/claims')) {
    // Claim writes (issue 13): MD5(api_token_key + tracking_number + claimed_amount), over the
    // claim's tracking number and claimed amount (saved by "File a claim" for the calls on it).
    const tn = typeof body.tracking_number === 'string' ? body.tracking_number : pm.variables.get('claim_tracking_number');
    const amount = body.claimed_amount !== undefined ? body.claimed_amount : pm.variables.get('claimed_amount');
    pm.variables.set('signature', cryptoJs.MD5(pm.variables.get('api_token_key') + tn + String(amount)).toString());
} else if (body && typeof body === 'object' && 'signature' in body && typeof body.tracking_number === 'string') {
    const premium = body.premium_amount !== undefined ? body.premium_amount : pm.variables.get('premium_amount');
    const signature = cryptoJs.MD5(pm.variables.get('api_token_key') + body.tracking_number + String(premium)).toString();
    pm.variables.set('signature', signature);
}
