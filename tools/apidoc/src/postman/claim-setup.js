// A delivery for the claim: insured, then tracked to `fail` (claimable as lost at once).
const cryptoJs = require('crypto-js');
const key = pm.variables.get('api_token_key');
const base = pm.variables.get('api_base_url');
const tn = 'PM-CLAIM-' + Date.now();
const headers = [
    { key: 'Authorization', value: 'Bearer ' + pm.collectionVariables.get('access_token') },
    { key: 'Content-Type', value: 'application/json' }
];
const premiumSignature = cryptoJs.MD5(key + tn + '15000').toString();
const submit = {
    tracking_number: tn, product_code: 'ahasme', customer_name: 'Cong ty ABC',
    customer_phone: '+84 901 234 567', pickup_address: '1 Le Loi, District 1, Ho Chi Minh City',
    drop_up_address: '2 Trang Tien, Hoan Kiem, Ha Noi', type_of_goods: 'electronics', cod_amount: 0,
    item_value: 3000000, premium_amount: 15000, order_created_time: new Date().toISOString(),
    goods_description: 'Mobile phone', good_quantity: 1, signature: premiumSignature
};
pm.sendRequest({ url: base + '/sme-deliveries', method: 'POST', header: headers,
                 body: { mode: 'raw', raw: JSON.stringify(submit) } }, function (err, res) {
    if (err || res.code !== 201) { console.error('claim setup: submit failed', err || res.text()); return; }
    pm.collectionVariables.set('claim_tracking_number', tn);
    pm.collectionVariables.set('claim_policy_id', res.json().policy_id);
    const fail = { tracking_number: tn, delivery_status: 'fail', signature: premiumSignature,
                   tracking_detail: [{ tracking_time: new Date().toISOString(), tracking_status: 'fail' }] };
    pm.sendRequest({ url: base + '/tracking-details', method: 'POST', header: headers,
                     body: { mode: 'raw', raw: JSON.stringify(fail) } }, function (err2, res2) {
        if (err2 || res2.code !== 200) { console.error('claim setup: tracking failed', err2 || res2.text()); }
    });
    let amount = pm.variables.get('claimed_amount');
    try { amount = JSON.parse(pm.variables.replaceIn(pm.request.body.raw)).claimed_amount; } catch (e) { }
    pm.variables.set('signature', cryptoJs.MD5(key + tn + String(amount)).toString());
});
